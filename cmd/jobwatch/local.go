package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

func init() {
	commands["local"] = command{"run the SAM application on this machine: local up | start | invoke | down", runLocal}
}

const localUsage = `usage: jobwatch local up [flags]
       jobwatch local start [flags]
       jobwatch local invoke LOGICAL_ID -e EVENT.json [flags]
       jobwatch local down [flags]

Runs the application of template.yaml on this machine, without AWS or
docker. up starts moto server (SQS, EventBridge, DynamoDB, SNS, SSM) and
the Amplify Admin API emulator on loopback (or reuses running ones with
--moto and --emulator), creates the template's queues, bus, rules, table
and topic in moto, and saves what it made in a state file. start runs
every function of that stack until Ctrl-C: it builds each one, runs its
bootstrap under the AWS Lambda Runtime Interface Emulator, and plays
Lambda's and EventBridge's part as the template says (SQS event sources,
the bus's rules with their retries and on-failure destination,
schedules); it prints each function's log lines prefixed with its logical
id, and what users would receive: each status change on the bus, each
message on the topic and each Slack post (to a local stand-in). invoke
runs one function once with an event, like 'sam local invoke'. down stops
what up and start started and removes the state.

A developer's loop:
  jobwatch local up && jobwatch local start      # one terminal
  jobwatch submit --local CloneBackend --input '{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"prtest"}'
`

const defaultStatePath = ".jobwatch/local.json"

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, localUsage)
		if len(args) == 0 {
			return usagef("want a subcommand: up, start, invoke or down")
		}
		return nil
	}
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"up": localUp, "start": localStart, "invoke": localInvoke, "down": localDown,
	}
	run, ok := sub[args[0]]
	if !ok {
		return usagef("unknown subcommand %q: want up, start, invoke or down", args[0])
	}
	return run(ctx, args[1:], stdout, stderr)
}

// paramsFlag collects --param Name=Value.
type paramsFlag map[string]string

func (p paramsFlag) String() string { return fmt.Sprint(map[string]string(p)) }

func (p paramsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want Name=Value, got %q", s)
	}
	p[k] = v
	return nil
}

func localUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	params := paramsFlag{}
	o := devstack.UpOptions{Detach: true, Parameters: params}
	fs.StringVar(&o.Template, "template", "template.yaml", "the SAM `TEMPLATE`")
	statePath := fs.String("state", defaultStatePath, "state `FILE` of the local stack")
	fs.StringVar(&o.StackName, "stack-name", "jobwatch-local", "stack `NAME` (prefixes resource names)")
	fs.StringVar(&o.Moto, "moto", "", "use the moto server at `URL` instead of starting one")
	emulatorURL := fs.String("emulator", "", "use the Admin API emulator at `URL` instead of starting one")
	fs.DurationVar(&o.VisibilityTimeout, "visibility-timeout", 5*time.Second, "every queue's visibility timeout locally (a failed message returns after it)")
	fs.Var(params, "param", "template parameter `Name=Value` (repeatable)")
	var emulatorArgs []string // for the emulator local up starts
	for _, name := range []string{"fail-operation", "job-duration"} {
		usage := map[string]string{
			"fail-operation": "jobs of `OPERATION` end FAILED in the emulator local up starts (repeatable)",
			"job-duration":   "how long jobs run in the emulator local up starts: `DURATION`, or OPERATION=DURATION (repeatable; default 5s)",
		}[name]
		fs.Func(name, usage, func(v string) error {
			if name == "fail-operation" {
				if _, err := amplify.LookupOperation(v); err != nil {
					return err
				}
			}
			emulatorArgs = append(emulatorArgs, "--"+name, v)
			return nil
		})
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *emulatorURL != "" && len(emulatorArgs) > 0 {
		return usagef("--fail-operation and --job-duration set up the emulator local up starts; with --emulator, give them to that emulator")
	}
	if _, err := os.Stat(*statePath); err == nil {
		return fmt.Errorf("a local stack is already up (state %s): run 'jobwatch local down' first", *statePath)
	}
	if _, err := os.Stat(o.Template); err != nil {
		return usagef("--template: %v (run it in a jobwatch checkout, or pass --template PATH/template.yaml: the local stack builds the functions from the template's directory)", err)
	}
	dir := filepath.Dir(*statePath)
	o.MotoLog = filepath.Join(dir, "moto.log")
	switch {
	case *emulatorURL != "":
		if !emulatorAlive(*emulatorURL) {
			return fmt.Errorf("--emulator: no emulator answers at %s", *emulatorURL)
		}
		o.Emulator = devstack.Server{Endpoint: *emulatorURL}
	default:
		e, err := startEmulatorProcess(dir, filepath.Join(dir, "emulator.log"), emulatorArgs...)
		if err != nil {
			return err
		}
		o.Emulator = *e
	}
	st, err := devstack.Up(ctx, o)
	if err == nil {
		st.Logs["emulator"] = filepath.Join(dir, "emulator.log")
		err = st.Save(*statePath)
	}
	if err != nil {
		if st != nil {
			_ = st.Down(context.Background())
		} else {
			o.Emulator.Stop()
		}
		return err
	}
	printUp(stdout, st, *statePath)
	return nil
}

func printUp(w io.Writer, st *devstack.State, statePath string) {
	s := st.Stack
	fmt.Fprintf(w, "local stack %s is up (state %s)\n", s.StackName, statePath)
	fmt.Fprintf(w, "  moto server   %s\n  Admin API     %s\n", st.Moto.Endpoint, st.Emulator.Endpoint)
	for _, id := range slices.Sorted(maps.Keys(s.Buses)) {
		fmt.Fprintf(w, "  event bus     %s\n", s.Buses[id].Name)
	}
	for _, id := range slices.Sorted(maps.Keys(s.Queues)) {
		fmt.Fprintf(w, "  queue         %-30s %s\n", id, s.Queues[id].URL)
	}
	for _, id := range slices.Sorted(maps.Keys(s.Tables)) {
		fmt.Fprintf(w, "  table         %s\n", s.Tables[id])
	}
	state := ""
	if statePath != defaultStatePath {
		state = " --state " + statePath
	}
	fmt.Fprintf(w, "next: jobwatch local start%s (runs the functions until Ctrl-C); then, in another terminal:\n", state)
	fmt.Fprintf(w, "      jobwatch submit --local%s CloneBackend --input '{\"AppId\":%q,\"BackendEnvironmentName\":\"dev\",\"TargetEnvironmentName\":\"prtest\"}' --wait\n", state, devstack.AppID)
}

// startEmulatorProcess starts `jobwatch emulator` (this same program) as a
// detached server with the local apps, on a port it picks.
func startEmulatorProcess(dir, logPath string, extra ...string) (*devstack.Server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	statePath := filepath.Join(dir, "emulator-apps.json")
	if err := os.WriteFile(statePath, []byte(devstack.DefaultApps), 0o644); err != nil {
		return nil, err
	}
	args := []string{"emulator", "--addr", "127.0.0.1:0", "--state", statePath}
	if !slices.Contains(extra, "--job-duration") {
		args = append(args, "--job-duration", "5s")
	}
	cmd := exec.Command(self, append(args, extra...)...)
	return devstack.StartServer(cmd, emulatorAnnounce, logPath, true, emulatorAlive, "Admin API emulator (jobwatch emulator)")
}

// emulatorAnnounce is the line in which `jobwatch emulator` tells its
// address.
var emulatorAnnounce = regexp.MustCompile(`listening on (http://[0-9.]+:[0-9]+)`)

func emulatorAlive(endpoint string) bool {
	resp, err := httpGet(endpoint + "/_emulator/stats")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func localInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	event := fs.String("e", "", "the event `FILE` to invoke the function with (- for stdin)")
	statePath := fs.String("state", defaultStatePath, "state `FILE` of the local stack")
	buildDir := fs.String("build-dir", ".jobwatch/build", "where to build the bootstrap and the emulator")
	positional, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("want one function's LOGICAL_ID, e.g. SubmitFunction")
	}
	if *event == "" {
		return usagef("want -e EVENT.json, e.g. -e events/submit/direct-clone-backend.json")
	}
	st, err := devstack.LoadState(*statePath)
	if err != nil {
		return err
	}
	fn, ok := st.Stack.Functions[positional[0]]
	if !ok {
		return usagef("no function %q in the template; functions: %s", positional[0], strings.Join(slices.Sorted(maps.Keys(st.Stack.Functions)), ", "))
	}
	payload, err := readEvent(*event)
	if err != nil {
		return usagef("-e: %v", err)
	}
	out, err := invokeOnce(ctx, st, fn, *buildDir, payload, stderr)
	var fe *lambdasim.FunctionError
	if errors.As(err, &fe) {
		fmt.Fprintf(stdout, `{"errorType":%q,"errorMessage":%q}`+"\n", fe.Type, fe.Message)
		return &exitError{code: 1, msg: fmt.Sprintf("%s returned an error: %s", fn.LogicalID, fe.Error())}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(out)))
	return nil
}

// invokeOnce builds a function and invokes it once under the Runtime
// Interface Emulator with the environment the template gives it, serving
// the stack's Slack stand-in meanwhile (notify posts to it).
func invokeOnce(ctx context.Context, st *devstack.State, fn *devstack.Function, buildDir string, payload []byte, logs io.Writer) ([]byte, error) {
	if st.Watch.Slack != nil {
		slack, err := slacktest.Listen(st.Watch.Slack.URL)
		if err != nil {
			return nil, err
		}
		defer slack.Close()
	}
	rie, err := lambdasim.BuildRIE(ctx, st.ModuleDir(), buildDir)
	if err != nil {
		return nil, err
	}
	bootstrap := filepath.Join(buildDir, fn.LogicalID, "bootstrap")
	if err := lambdasim.BuildFunction(ctx, st.ModuleDir(), fn.Package, bootstrap); err != nil {
		return nil, err
	}
	f, err := lambdasim.StartRIE(ctx, lambdasim.RIEConfig{RIE: rie, Bootstrap: bootstrap, Name: fn.LogicalID,
		Timeout: fn.Timeout, MemoryMB: fn.MemoryMB, Env: fn.Env, Output: logs})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Invoke(ctx, payload)
}

func readEvent(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func localDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	statePath := fs.String("state", defaultStatePath, "state `FILE` of the local stack")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := devstack.LoadState(*statePath)
	if err != nil {
		return err
	}
	if pid, ok := startedBy(*statePath); ok {
		fmt.Fprintf(stdout, "stopping jobwatch local start (pid %d)\n", pid)
		stopProcess(pid, 15*time.Second)
	}
	if err := st.Down(ctx); err != nil {
		fmt.Fprintf(stderr, "jobwatch local down: some resources were not deleted: %v\n", err)
	}
	if err := os.Remove(*statePath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "local stack %s is down\n", st.Stack.StackName)
	return nil
}
