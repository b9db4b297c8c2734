package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// realClientEnv keeps the machine's AWS configuration out of a client run
// and gives it dummy credentials.
func realClientEnv(t *testing.T) []string {
	dir := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=SECRETEXAMPLE",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"PYTHONDONTWRITEBYTECODE=1", // no __pycache__ in testdata
	}
}

// runBoto3 runs a boto3 script of testdata against url and returns its
// output, skipping the test where boto3 is missing.
func runBoto3(t *testing.T, script, url string) string {
	t.Helper()
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("python3 with boto3 not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", filepath.Join("testdata", script), url)
	cmd.Env = realClientEnv(t)
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
	return string(out)
}

// TestBoto3 runs testdata/boto3_client.py against a real-time emulator:
// job lifecycle, the pending-job refusal, the list_backend_jobs
// paginator, NotFound and BadRequest as boto3's modeled exceptions.
func TestBoto3(t *testing.T) {
	t.Parallel()
	f := start(t, emulator.Config{
		Clock: realClockForTest{},
		JobDurations: emulator.FixedDurations(time.Hour, map[string]time.Duration{
			"CloneBackend": 300 * time.Millisecond,
		}),
	})
	out := runBoto3(t, "boto3_client.py", f.srv.URL)
	if n := strings.Count(out, "\nok ") + 1; n < 20 {
		t.Errorf("boto3_client.py passed %d checks, want 20 or more", n)
	}
	// Every call was an Admin API call the emulator answered.
	if s := f.srv.Stats(); s.Operations["ListBackendJobs"].Outcomes["200"] != 4 || s.Operations["CloneBackend"].Calls != 5 {
		t.Errorf("stats after boto3: %+v, want 4 ListBackendJobs pages answered, 5 CloneBackend calls", s.Operations)
	}
}

// TestBoto3Faults runs testdata/boto3_faults.py: a lost answer and an
// outage, 503s and dropped connections, as boto3 meets them, with faults
// set over HTTP.
func TestBoto3Faults(t *testing.T) {
	t.Parallel()
	f := start(t, emulator.Config{Clock: realClockForTest{}, JobDurations: emulator.FixedDurations(time.Hour, nil)})
	out := runBoto3(t, "boto3_faults.py", f.srv.URL)
	if n := strings.Count(out, "\nok ") + 1; n < 7 {
		t.Errorf("boto3_faults.py passed %d checks, want 7", n)
	}
	s := f.srv.Stats()
	if len(s.LostAnswers) != 1 || s.LostAnswers[0].Operation != "CloneBackend" || s.Count(emulator.OutcomeLostAnswer) != 1 {
		t.Errorf("lost answers %v, want the one CloneBackend", s.LostAnswers)
	}
	// boto3 made 2 attempts (max_attempts 2) at each fault.
	if got := s.Operations["GetBackend"].Outcomes; got[emulator.OutcomeOutage] != 2 || got[emulator.OutcomeDropped] != 2 {
		t.Errorf("GetBackend outcomes %v, want 2 outage answers and 2 dropped connections", got)
	}
}

// realClockForTest is the wall clock, for clients that poll in real time.
type realClockForTest struct{}

func (realClockForTest) Now() time.Time { return time.Now() }

// TestAWSCLI runs the aws CLI against the emulator and reads its output.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not found")
	}
	f := start(t, emulator.Config{})
	tests := map[string]struct {
		args       []string
		wantExit   int
		wantOutput map[string]any
		wantStderr string
	}{
		"get-backend": {
			args:       []string{"get-backend", "--app-id", demoApp},
			wantOutput: map[string]any{"AppId": demoApp, "AppName": "demo", "BackendEnvironmentList": []any{"dev", "staging"}},
		},
		"unknown app": {
			args: []string{"get-backend", "--app-id", "nope"}, wantExit: 255, // aws CLI v1; v2 exits 254
			wantStderr: "An error occurred (NotFoundException) when calling the GetBackend operation: There is no app with appId nope",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"amplifybackend"}, tc.args...)
			args = append(args, "--endpoint-url", f.srv.URL, "--region", "us-east-1", "--output", "json")
			cmd := exec.CommandContext(ctx, "aws", args...)
			cmd.Env = realClientEnv(t)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.wantExit {
				t.Fatalf("aws %v: exit %d, want %d\nstderr: %s", tc.args, code, tc.wantExit, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.wantStderr)
			}
			if tc.wantOutput == nil {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
			}
			for k, want := range tc.wantOutput {
				if jsonText(t, got[k]) != jsonText(t, want) {
					t.Errorf("%s = %s, want %s", k, jsonText(t, got[k]), jsonText(t, want))
				}
			}
		})
	}
}
