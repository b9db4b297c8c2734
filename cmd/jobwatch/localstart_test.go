package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/state"
)

// TestLocalStart runs the developer's loop as a user would, with the
// jobwatch binary: local up (starting moto and the emulator), local start
// in the background, submit --local, and the status change, the SNS
// message and the Slack post appearing in local start's output, each
// function's logs prefixed with its logical id; submit --wait's exit
// statuses and jobs --local's listing (waitAndList); then SIGTERM stops
// local start with nothing of it left running, and local down stops the
// rest.
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
	if out, err := jobwatch("local", "up", "--template", "../../template.yaml", "--state", state, "--stack-name", testenv.Name(t, "start"),
		"--fail-operation", "GenerateBackendAPIModels"); err != nil {
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

	waitAndList(t, bin, state)

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

// waitAndList runs, against the running local stack, `submit --local
// --wait`: exit status 0 and the COMPLETED status change for a clone,
// 1 for a job the emulator fails (local up --fail-operation), 4 for a
// request waiting behind another when --timeout passes, 1 for one the
// service refuses; then `jobs --local --json` lists them with their
// states, and `jobs show` tells a timeline down to the announcements.
func waitAndList(t *testing.T, bin, statePath string) {
	local := []string{"--local", "--state", statePath}
	submit := func(id, op, input string, extra ...string) (string, string, int) {
		t.Helper()
		args := append([]string{"submit", "--wait", "--request-id", id, op, "--input", input}, local...)
		return runBinary(t, bin, nil, append(args, extra...)...)
	}
	out, errOut, code := submit("t-ok", "CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"staging","TargetEnvironmentName":"prok"}`, "--json")
	var c contract.StatusChange
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.Status != "COMPLETED" || c.RequestID != "t-ok" || c.JobID == "" {
		t.Errorf("submit --wait of a clone: exit %d\nstdout %s\nstderr %s; want 0 and its COMPLETED status change", code, out, errOut)
	}
	if !strings.Contains(errOut, "RUNNING as job "+c.JobID) || !strings.Contains(errOut, "COMPLETED after") {
		t.Errorf("progress on stderr:\n%s\nwant RUNNING as job %s, then COMPLETED after …", errOut, c.JobID)
	}
	out, errOut, code = submit("t-fail", "GenerateBackendAPIModels", `{"AppId":"d1abc23","BackendEnvironmentName":"models","ResourceName":"main"}`)
	if code != 1 || !strings.HasPrefix(out, "FAILED GenerateBackendAPIModels on d1abc23/models, job ") {
		t.Errorf("submit --wait of a failing job: exit %d\nstdout %s\nstderr %s; want 1 and FAILED", code, out, errOut)
	}

	// A request behind another on the same environment: --timeout passes
	// while it waits; it goes on, and completes.
	blocker := exec.Command(bin, append([]string{"submit", "--wait", "--request-id", "t-first", "CloneBackend",
		"--input", `{"AppId":"d1abc23","BackendEnvironmentName":"qa","TargetEnvironmentName":"prfirst"}`}, local...)...)
	if err := blocker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Wait() }()
	waitRecorded(t, bin, local, "t-first")
	out, errOut, code = submit("t-late", "CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"qa","TargetEnvironmentName":"prlate"}`, "--timeout", "3s")
	if code != 4 || out != "" || !strings.Contains(errOut, "jobwatch keeps watching it") {
		t.Errorf("submit --wait --timeout 3s behind another job: exit %d\nstdout %s\nstderr %s; want 4", code, out, errOut)
	}
	out, errOut, code = submit("t-refused", "CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"nosuch","TargetEnvironmentName":"prx"}`)
	if code != 1 || !strings.Contains(errOut, "refused: NotFoundException") {
		t.Errorf("submit --wait of a request the service refuses: exit %d\nstdout %s\nstderr %s; want 1, refused", code, out, errOut)
	}
	if _, errOut, code := submit("t-bad", "CloneBackend", `{"AppId":"d1abc23"}`); code != 2 || !strings.Contains(errOut, "BackendEnvironmentName") {
		t.Errorf("submit --wait of a malformed request: exit %d, %s; want 2", code, errOut)
	}
	if err := blocker.Wait(); err != nil {
		t.Errorf("submit --wait of t-first: %v", err)
	}

	out, _, code = runBinary(t, bin, nil, append([]string{"jobs", "--json"}, local...)...)
	var entries []state.Entry
	if err := json.Unmarshal([]byte(out), &entries); code != 0 || err != nil {
		t.Fatalf("jobs --local --json: exit %d, %v\n%s", code, err, out)
	}
	states := map[string]string{}
	for _, e := range entries {
		states[e.RequestID] = e.State
	}
	for id, want := range map[string][]string{"t-ok": {"COMPLETED"}, "t-fail": {"FAILED"}, "t-first": {"COMPLETED"},
		"t-late": {"WAITING", "STARTING", "RUNNING", "COMPLETED"}, "t-refused": {"FAILED"}} {
		if !slices.Contains(want, states[id]) {
			t.Errorf("jobs --local --json: %s is %q, want one of %v (all: %v)", id, states[id], want, states)
		}
	}
	if _, ok := states["t-bad"]; ok {
		t.Errorf("the malformed request t-bad was submitted: %v", states)
	}
	out, _, code = runBinary(t, bin, nil, append([]string{"jobs", "--state", "FAILED"}, local...)...)
	if code != 0 || !strings.Contains(out, "t-fail") || !strings.Contains(out, "t-refused") || strings.Contains(out, "t-ok") {
		t.Errorf("jobs --state FAILED: exit %d\n%s", code, out)
	}
	out, _, code = runBinary(t, bin, nil, append([]string{"jobs", "show", "t-ok"}, local...)...)
	for _, want := range []string{"received: CloneBackend on d1abc23/staging", "started job " + c.JobID, "lookup 1: ", "ended COMPLETED", "COMPLETED announced to eventbridge"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("jobs show t-ok: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
}

// waitRecorded waits until jobwatch has a record of request id.
func waitRecorded(t *testing.T, bin string, local []string, id string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, _, code := runBinary(t, bin, nil, append([]string{"jobs", "show", id}, local...)...); code == 0 {
			return
		}
	}
	t.Fatalf("request %s was not recorded within a minute", id)
}
