package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

// TestLocalStart runs the developer's loop as a user would, with the
// jobwatch binary: local up (starting moto and the emulator), local start
// in the background, submit --local, and the status change, the SNS
// message and the Slack post appearing in local start's output, each
// function's logs prefixed with its logical id; then SIGTERM stops local
// start with nothing of it left running, and local down stops the rest.
func TestLocalStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the functions")
	}
	testenv.Moto(t) // skips where moto is missing
	bin := testenv.BuildCLI(t, "../..")
	dir := t.TempDir()
	state := filepath.Join(dir, "local.json")
	jobwatch := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := jobwatch("local", "start", "--state", state); err == nil || !strings.Contains(out, "jobwatch local up") {
		t.Errorf("local start without a stack: %v\n%s", err, out)
	}
	if out, err := jobwatch("local", "up", "--template", "../../template.yaml", "--state", state, "--stack-name", testenv.Name(t, "start")); err != nil {
		t.Fatalf("local up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := jobwatch("local", "down", "--state", state); err != nil || !strings.Contains(out, "is down") {
			t.Errorf("local down: %v\n%s", err, out)
		}
	})

	start := exec.Command(bin, "local", "start", "--state", state, "--schedule-every", "10s")
	lines := testenv.Lines(t, start)
	testenv.WaitLines(t, lines, 10*time.Minute, "is running") // building the functions may take minutes on a busy machine
	if out, err := jobwatch("local", "start", "--state", state); err == nil || !strings.Contains(out, "already running") {
		t.Errorf("a second local start: %v\n%s", err, out)
	}
	out, err := jobwatch("submit", "--local", "--state", state, "CloneBackend", "--request-id", "t-start",
		"--input", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"prtest"}`)
	if err != nil {
		t.Fatalf("submit --local: %v\n%s", err, out)
	}
	testenv.WaitLines(t, lines, 2*time.Minute, "SubmitFunction | ", "PollFunction | ", "NotifyFunction | ",
		"event | Amplify Backend Job Status Change: COMPLETED CloneBackend d1abc23/dev",
		`sns   | "jobwatch: CloneBackend COMPLETED on d1abc23/dev"`,
		"slack | ✅ CloneBackend completed on d1abc23/dev")

	if err := start.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.WaitLines(t, lines, time.Minute, "stopped")
	if err := start.Wait(); err != nil {
		t.Errorf("local start after SIGTERM: %v", err)
	}
	if left := processesUnder(filepath.Join(dir, "build")); len(left) > 0 {
		t.Errorf("processes of local start still run after it stopped: %v", left)
	}
}

// processesUnder lists the processes whose command line names a path
// under dir.
func processesUnder(dir string) []string {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var found []string
	for _, path := range cmdlines {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), dir) {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}
