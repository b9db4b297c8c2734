package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/samtemplate"
)

func init() {
	commands["local"] = command{"run the SAM application on this machine: local up | invoke | down", runLocal}
}

const localUsage = `usage: jobwatch local up [flags]
       jobwatch local invoke LOGICAL_ID -e EVENT.json [flags]
       jobwatch local down [flags]

Runs the application of template.yaml on this machine, without AWS or
docker: up starts moto server (SQS, EventBridge, DynamoDB, SNS) and the
Amplify Admin API emulator on loopback (or reuses running ones), creates
the template's queues, bus, rules, table and topics in moto and saves what
it made in a state file; invoke builds one function for this machine, runs
its bootstrap under the AWS Lambda Runtime Interface Emulator with the
environment the template gives it, invokes it with the event and prints
the response (logs on stderr), like 'sam local invoke'; down stops what up
started and removes the state.
`

// localState is the state file of `jobwatch local`.
type localState struct {
	Template string            `json:"template"`
	Moto     devstack.Server   `json:"moto"`
	Emulator devstack.Server   `json:"emulator"`
	Stack    *devstack.Stack   `json:"stack"`
	Started  time.Time         `json:"started"`
	Logs     map[string]string `json:"logs"`
}

// Local identity: what moto answers with.
const (
	localRegion  = devstack.Region
	localAccount = devstack.Account
)

// localFunctionEnv is what every local function gets besides its template
// environment: region, test credentials, the local endpoints, and local
// timings (seconds where the deployed defaults are minutes).
func localFunctionEnv(moto, emulator string) map[string]string {
	return map[string]string{
		"AWS_REGION": localRegion, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_ENDPOINT_URL": moto, "AWS_ENDPOINT_URL_AMPLIFYBACKEND": emulator,
		"INITIAL_POLL_DELAY": "2s", "WAIT_RETRY_DELAY": "3s", "NOT_FOUND_GRACE": "30s",
	}
}

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, localUsage)
		if len(args) == 0 {
			return usagef("want a subcommand: up, invoke or down")
		}
		return nil
	}
	switch args[0] {
	case "up":
		return localUp(ctx, args[1:], stdout, stderr)
	case "invoke":
		return localInvoke(ctx, args[1:], stdout, stderr)
	case "down":
		return localDown(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q: want up, invoke or down", args[0])
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
	template := fs.String("template", "template.yaml", "the SAM `TEMPLATE`")
	statePath := fs.String("state", ".jobwatch/local.json", "state `FILE` of the local stack")
	stackName := fs.String("stack-name", "jobwatch-local", "stack `NAME` (prefixes resource names)")
	motoURL := fs.String("moto", "", "use the moto server at `URL` instead of starting one")
	emulatorURL := fs.String("emulator", "", "use the Admin API emulator at `URL` instead of starting one")
	visibility := fs.Duration("visibility-timeout", 5*time.Second, "every queue's visibility timeout locally (a failed message returns after it)")
	params := paramsFlag{}
	fs.Var(params, "param", "template parameter `Name=Value` (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, err := os.Stat(*statePath); err == nil {
		return fmt.Errorf("a local stack is already up (state %s): run 'jobwatch local down' first", *statePath)
	}
	app, err := samtemplate.Load(*template)
	if err != nil {
		return usagef("--template: %v", err)
	}
	if _, ok := params["AllowedAppIds"]; !ok {
		params["AllowedAppIds"] = devstack.AppID
	}
	dir := filepath.Dir(*statePath)
	st := &localState{Template: *template, Started: time.Now().UTC(), Logs: map[string]string{}}
	stop := func() {
		st.Moto.Stop()
		st.Emulator.Stop()
	}

	switch {
	case *motoURL != "":
		if !devstack.MotoAlive(*motoURL) {
			return fmt.Errorf("--moto: no moto server answers at %s", *motoURL)
		}
		st.Moto = devstack.Server{Endpoint: *motoURL}
	default:
		st.Logs["moto"] = filepath.Join(dir, "moto.log")
		m, err := devstack.StartMoto(0, st.Logs["moto"], true)
		if err != nil {
			return err
		}
		st.Moto = *m
	}
	switch {
	case *emulatorURL != "":
		if !emulatorAlive(*emulatorURL) {
			stop()
			return fmt.Errorf("--emulator: no emulator answers at %s", *emulatorURL)
		}
		st.Emulator = devstack.Server{Endpoint: *emulatorURL}
	default:
		st.Logs["emulator"] = filepath.Join(dir, "emulator.log")
		e, err := startEmulatorProcess(dir, st.Logs["emulator"])
		if err != nil {
			stop()
			return err
		}
		st.Emulator = *e
	}

	stack, err := devstack.Deploy(ctx, devstack.Options{
		App: app, AWS: devstack.AWSConfig(st.Moto.Endpoint), StackName: *stackName, Region: localRegion, AccountID: localAccount,
		Parameters: params, VisibilityTimeout: *visibility, FunctionEnv: localFunctionEnv(st.Moto.Endpoint, st.Emulator.Endpoint),
	})
	if err != nil {
		stop()
		return err
	}
	st.Stack = stack
	if err := saveJSON(*statePath, st); err != nil {
		stop()
		return err
	}
	fmt.Fprintf(stdout, "local stack %s is up (state %s)\n", *stackName, *statePath)
	fmt.Fprintf(stdout, "  moto server   %s\n  Admin API     %s (apps: %s)\n", st.Moto.Endpoint, st.Emulator.Endpoint, params["AllowedAppIds"])
	for _, id := range sortedKeys(stack.Buses) {
		fmt.Fprintf(stdout, "  event bus     %s\n", stack.Buses[id].Name)
	}
	for _, id := range sortedKeys(stack.Queues) {
		fmt.Fprintf(stdout, "  queue         %-30s %s\n", id, stack.Queues[id].URL)
	}
	for _, id := range sortedKeys(stack.Tables) {
		fmt.Fprintf(stdout, "  table         %s\n", stack.Tables[id])
	}
	fmt.Fprintf(stdout, "next: jobwatch local invoke SubmitFunction -e events/submit/direct-clone-backend.json\n")
	return nil
}

// startEmulatorProcess starts `jobwatch emulator` (this same program) as a
// detached server with the demo apps.
func startEmulatorProcess(dir, logPath string) (*devstack.Server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := devstack.FreePort()
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
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(self, "emulator", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--state", statePath, "--job-duration", "5s")
	return devstack.StartServer(cmd, endpoint, logPath, true, emulatorAlive, "Admin API emulator (jobwatch emulator)")
}

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
	statePath := fs.String("state", ".jobwatch/local.json", "state `FILE` of the local stack")
	buildDir := fs.String("build-dir", ".jobwatch/build", "where to build the bootstrap and the emulator")
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usagef("%v", err)
	}
	if len(positional) != 1 {
		return usagef("want one function's LOGICAL_ID, e.g. SubmitFunction")
	}
	if *event == "" {
		return usagef("want -e EVENT.json, e.g. -e events/submit/direct-clone-backend.json")
	}
	st, err := loadLocalState(*statePath)
	if err != nil {
		return err
	}
	fn, ok := st.Stack.Functions[positional[0]]
	if !ok {
		return usagef("no function %q in the template; functions: %s", positional[0], strings.Join(sortedKeys(st.Stack.Functions), ", "))
	}
	payload, err := readEvent(*event)
	if err != nil {
		return usagef("-e: %v", err)
	}
	moduleDir := filepath.Dir(st.Template)
	rie, err := lambdasim.BuildRIE(ctx, moduleDir, *buildDir)
	if err != nil {
		return err
	}
	bootstrap := filepath.Join(*buildDir, fn.LogicalID, "bootstrap")
	if err := lambdasim.BuildFunction(ctx, moduleDir, fn.Package, bootstrap); err != nil {
		return err
	}
	f, err := lambdasim.StartRIE(ctx, lambdasim.RIEConfig{RIE: rie, Bootstrap: bootstrap, Name: fn.LogicalID,
		Timeout: fn.Timeout, MemoryMB: fn.MemoryMB, Env: fn.Env, Output: stderr})
	if err != nil {
		return err
	}
	out, err := f.Invoke(ctx, payload)
	f.Close()
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

func readEvent(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func localDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	statePath := fs.String("state", ".jobwatch/local.json", "state `FILE` of the local stack")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	st, err := loadLocalState(*statePath)
	if err != nil {
		return err
	}
	if st.Moto.PID == 0 && st.Stack != nil {
		// A reused moto server keeps running: remove what up created in it.
		if err := st.Stack.Delete(ctx, devstack.AWSConfig(st.Moto.Endpoint)); err != nil {
			fmt.Fprintf(stderr, "jobwatch local down: some resources were not deleted: %v\n", err)
		}
	}
	st.Moto.Stop()
	st.Emulator.Stop()
	if err := os.Remove(*statePath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "local stack %s is down\n", st.Stack.StackName)
	return nil
}

func loadLocalState(path string) (*localState, error) {
	var st localState
	if err := loadJSON(path, &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no local stack is up (no state %s): run 'jobwatch local up' first", path)
		}
		return nil, err
	}
	if st.Stack == nil {
		return nil, fmt.Errorf("state %s holds no stack: run 'jobwatch local down', then 'up'", path)
	}
	return &st, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
