package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

// TestLocalInvokeSamples brings a local stack up from template.yaml and
// invokes each function, under the Runtime Interface Emulator, with every
// sample event of events/<function>/: good samples succeed with the
// response each function gives, bad-* samples are refused naming the
// problem — as a function error for submit, as batch item failures with a
// log line for the SQS-fed functions. Then the stack goes down.
func TestLocalInvokeSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the functions")
	}
	moto := testenv.Moto(t)
	emu, err := emulator.Start(emulator.Config{Seed: 1, State: devstack.DefaultState()})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "local.json")
	code, stdout, stderr := runCLI(t, "local", "up", "--template", "../../template.yaml", "--state", state,
		"--moto", moto, "--emulator", emu.URL, "--stack-name", testenv.Name(t, "local"))
	if code != 0 || !strings.Contains(stdout, "is up") {
		t.Fatalf("local up: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A second up refuses while one is up.
	if code, _, stderr := runCLI(t, "local", "up", "--state", state, "--template", "../../template.yaml"); code == 0 || !strings.Contains(stderr, "already up") {
		t.Errorf("second up: exit %d, %s", code, stderr)
	}

	// jobwatch submit --local puts a checked job request on the local bus,
	// where the rule delivers it for SubmitFunction.
	code, stdout, stderr = runCLI(t, "submit", "--local", "--state", state, "CloneBackend", "--request-id", "t-1",
		"--input", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"prnine"}`)
	if code != 0 || !strings.Contains(stdout, `"requestId":"t-1"`) {
		t.Fatalf("submit --local: exit %d, %s %s", code, stdout, stderr)
	}
	st, err := devstack.LoadState(state)
	if err != nil {
		t.Fatal(err)
	}
	var target string
	for _, r := range st.Stack.Rules {
		if r.Function == "SubmitFunction" {
			target = r.Target.URL
		}
	}
	delivered, err := sqs.NewFromConfig(devstack.AWSConfig(moto)).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(target), WaitTimeSeconds: 2})
	if err != nil || len(delivered.Messages) != 1 || !strings.Contains(aws.ToString(delivered.Messages[0].Body), `t-1`) {
		t.Errorf("the rule did not deliver the job request: %v %v", delivered, err)
	}

	functions := map[string]string{"submit": "SubmitFunction", "poll": "PollFunction", "notify": "NotifyFunction", "sweep": "SweepFunction"}
	for dirName, fn := range functions {
		files, _ := filepath.Glob(filepath.Join("../../events", dirName, "*.json"))
		if len(files) == 0 {
			t.Fatalf("no sample events for %s", dirName)
		}
		for _, file := range files {
			name := filepath.Base(file)
			t.Run(dirName+"/"+name, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, "local", "invoke", fn, "-e", file, "--state", state, "--build-dir", filepath.Join(dir, "build"))
				checkSampleResponse(t, fn, strings.HasPrefix(name, "bad-"), code, stdout, stderr)
			})
		}
	}

	if code, _, stderr := runCLI(t, "local", "invoke", "NoSuchFunction", "-e", "x.json", "--state", state); code != 2 || !strings.Contains(stderr, "SubmitFunction") {
		t.Errorf("unknown function: exit %d, %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "local", "down", "--state", state); code != 0 || !strings.Contains(stdout, "is down") {
		t.Errorf("local down: exit %d, %s %s", code, stdout, stderr)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Error("local down left its state file")
	}
	if code, _, stderr := runCLI(t, "local", "invoke", "SubmitFunction", "-e", "x.json", "--state", state); code != 1 || !strings.Contains(stderr, "jobwatch local up") {
		t.Errorf("invoke without a stack: exit %d, %s", code, stderr)
	}
}

// TestDemo runs `jobwatch demo` with the smallest job count and checks
// what a user reads: every job announced, one failure, the summary.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	testenv.Moto(t) // skips where moto is missing
	code, stdout, stderr := runCLI(t, "demo", "--template", "../../template.yaml", "--jobs", "5", "--timeout", "100s",
		"--work-dir", t.TempDir(), "--live=false")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"summary: 5 jobs", "4 COMPLETED", "1 FAILED", "event: ✖ FAILED    ImportBackendStorage",
		"UpdateBackendAPI       prod      WAITING", "Admin API calls",
		"slack: ❌ ImportBackendStorage failed on d1abc23/qa", `sns  : "jobwatch: ImportBackendStorage FAILED on d1abc23/qa" [status=FAILED`,
		"5 Slack posts, 5 SNS messages",
		// The metrics summary, from the functions' EMF lines.
		"as CloudWatch would read them", "jobs ended: 4 COMPLETED, 1 FAILED", "detection lag: p50 ", "(5 jobs)", "Admin API: ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, stderr := runCLI(t, "demo", "--jobs", "2"); code != 2 || !strings.Contains(stderr, "--jobs must be from 5") {
		t.Errorf("--jobs 2: exit %d, %s", code, stderr)
	}
}

func TestMain(m *testing.M) { testenv.Main(m) }

// checkSampleResponse checks what local invoke printed for a sample event:
// a bad sample is refused (a function error for submit, batch item
// failures with a log line naming the message for the SQS-fed functions),
// a good one answered; no secret reaches the logs.
func checkSampleResponse(t *testing.T, fn string, bad bool, code int, stdout, stderr string) {
	t.Helper()
	var resp map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &resp); err != nil {
		t.Fatalf("response is not JSON: %q (exit %d)\n%s", stdout, code, stderr)
	}
	failures, isBatch := resp["batchItemFailures"].([]any)
	switch {
	case resp["errorMessage"] != nil:
		// A function error: only a bad sample may cause one.
		if !bad || code != 1 || !strings.Contains(stderr, fn+" returned an error") {
			t.Errorf("exit %d, response %v\n%s", code, resp, stderr)
		}
	case bad && fn == "SubmitFunction" && resp["error"] != nil:
		// A refused EventBridge request: answered, and its event parked in
		// the submit-failures queue at once (no retry would change it).
		if code != 0 || !strings.Contains(stderr, "refused") {
			t.Errorf("refused request: exit %d, response %v\n%s", code, resp, stderr)
		}
	case bad && !isBatch:
		t.Errorf("bad sample accepted: exit %d, response %v", code, resp)
	case fn == "SubmitFunction" && !isBatch:
		if code != 0 || resp["jobId"] == nil || resp["status"] == nil {
			t.Errorf("exit %d, response %v\n%s", code, resp, stderr)
		}
	case !isBatch:
		// A hint (poll) or a sweep: an answer, no error.
		if code != 0 {
			t.Errorf("exit %d, response %v\n%s", code, resp, stderr)
		}
	case bad:
		// Poison is parked in the dead-letter queue at once (poll, notify),
		// or left for redelivery.
		if parked := strings.Contains(stderr, "dead-letter queue"); code != 0 || (len(failures) == 0 && !parked) {
			t.Errorf("bad batch: exit %d, response %v; want batch item failures or the message parked", code, resp)
		}
		if !strings.Contains(stderr, `"messageId"`) {
			t.Errorf("no log line names the bad message:\n%s", stderr)
		}
	default:
		if code != 0 || !isBatch || len(failures) != 0 {
			t.Errorf("exit %d, response %v\n%s", code, resp, stderr)
		}
	}
	if strings.Contains(stderr, "TOPSECRET") || strings.Contains(stderr, "ClientSecret\":\"") {
		t.Errorf("a secret reached the function's logs")
	}
}
