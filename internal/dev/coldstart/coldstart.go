// Package coldstart measures the Lambda functions' binary sizes and cold
// starts under the Runtime Interface Emulator, next to a hello-world
// aws-lambda-go function built the same way (`jobwatch bench --coldstart`).
package coldstart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
)

// Function is one function to measure.
type Function struct {
	Name string
	// Package is the main package, relative to the module's root.
	Package string
	// Env is what the function needs to start (dummy values).
	Env map[string]string
}

// Baseline is the hello-world function the others are compared with.
const Baseline = "hello"

// queueURL is a dummy queue URL: the functions only check its form at
// start.
func queueURL(name string) string { return "http://127.0.0.1:9/123456789012/" + name }

// Functions are the functions measured, the baseline first, with the
// settings each requires at start (functions/*/main.go).
func Functions() []Function {
	return []Function{
		{Name: Baseline, Package: "./internal/dev/coldstart/hello"},
		{Name: "submit", Package: "./functions/submit", Env: map[string]string{
			"JOBS_QUEUE_URL": queueURL("jobs"), "WAITING_QUEUE_URL": queueURL("waiting"),
			"COMPLETIONS_QUEUE_URL": queueURL("completions"), "SUBMIT_FAILURES_QUEUE_URL": queueURL("submit-failures"),
			"STATE_TABLE": "jobwatch-state", "ALLOWED_APP_IDS": "d1abc23",
		}},
		{Name: "poll", Package: "./functions/poll", Env: map[string]string{
			"JOBS_QUEUE_URL": queueURL("jobs"), "COMPLETIONS_QUEUE_URL": queueURL("completions"), "WAITING_QUEUE_URL": queueURL("waiting"),
			"ALLOWED_APP_IDS": "d1abc23",
		}},
		{Name: "notify", Package: "./functions/notify", Env: map[string]string{
			"EVENT_BUS_NAME": "jobwatch", "ACCOUNT_ID": "123456789012",
		}},
	}
}

// Payload is what each function is invoked with: an empty SQS event,
// which every function here handles at once.
const Payload = `{"Records":[]}`

// Options configure a measurement.
type Options struct {
	// Runs is the number of cold starts per function; the median counts.
	Runs int
	// Only limits the functions to these names (the baseline is always
	// measured); all when empty.
	Only []string
	// ModuleDir is the module's root; found with `go env GOMOD` when empty.
	ModuleDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Result is one function's measurement.
type Result struct {
	Name      string          `json:"name"`
	SizeBytes int64           `json:"sizeBytes"`
	ColdStart time.Duration   `json:"coldStartNanos"`
	Runs      []time.Duration `json:"runsNanos"`
	// SizeRatio and StartRatio compare with the baseline.
	SizeRatio  float64 `json:"sizeRatio"`
	StartRatio float64 `json:"startRatio"`
}

// Run builds the runtime interface emulator and each function's bootstrap
// for this machine (CGO_ENABLED=0 -tags lambda.norpc -trimpath
// -ldflags=-s -w, as the Makefile builds them for Lambda), then starts
// each one cold Runs times, round robin, timing from the emulator's start
// to the first 200 answer to an invocation.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Runs < 1 {
		o.Runs = 1
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	dir := o.ModuleDir
	if dir == "" {
		var err error
		if dir, err = moduleDir(ctx); err != nil {
			return nil, err
		}
	}
	var fns []Function
	for _, f := range Functions() {
		if f.Name == Baseline || len(o.Only) == 0 || slices.Contains(o.Only, f.Name) {
			fns = append(fns, f)
		}
	}
	tmp, err := os.MkdirTemp("", "jobwatch-coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(logw, "building the runtime interface emulator")
	rie, err := lambdasim.BuildRIE(ctx, dir, tmp)
	if err != nil {
		return nil, fmt.Errorf("build the runtime interface emulator: %w", err)
	}
	results := make([]Result, len(fns))
	boots := make([]string, len(fns))
	for i, f := range fns {
		fmt.Fprintf(logw, "building %s (%s)\n", f.Name, f.Package)
		boots[i] = filepath.Join(tmp, f.Name, "bootstrap")
		if err := lambdasim.BuildFunction(ctx, dir, f.Package, boots[i]); err != nil {
			return nil, err
		}
		fi, err := os.Stat(boots[i])
		if err != nil {
			return nil, err
		}
		results[i] = Result{Name: f.Name, SizeBytes: fi.Size()}
	}
	for run := range o.Runs {
		for i, f := range fns {
			d, err := coldStart(ctx, rie, boots[i], f)
			if err != nil {
				return nil, fmt.Errorf("cold start %s (run %d): %w", f.Name, run+1, err)
			}
			fmt.Fprintf(logw, "%s run %d: %v\n", f.Name, run+1, d.Round(time.Microsecond))
			results[i].Runs = append(results[i].Runs, d)
		}
	}
	for i := range results {
		sorted := slices.Clone(results[i].Runs)
		slices.Sort(sorted)
		results[i].ColdStart = sorted[len(sorted)/2]
	}
	base := results[0]
	for i := range results {
		results[i].SizeRatio = float64(results[i].SizeBytes) / float64(base.SizeBytes)
		results[i].StartRatio = float64(results[i].ColdStart) / float64(base.ColdStart)
	}
	return results, nil
}

// moduleDir is the root of the module the command runs in.
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module (go env GOMOD): %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the jobwatch module: run from its directory")
	}
	return filepath.Dir(gomod), nil
}

// coldStart starts the emulator with the bootstrap and times the first
// successful invocation. It polls every millisecond, not through
// lambdasim.StartRIE, whose 50 ms wait for the port would blur the
// measurement.
// environ is a function's environment under the emulator: what Lambda
// sets, dummy credentials, and the function's own settings.
func environ(f Function) map[string]string {
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "TZ": "UTC",
		"AWS_LAMBDA_FUNCTION_NAME": f.Name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
	for k, v := range f.Env {
		env[k] = v
	}
	return env
}

func coldStart(ctx context.Context, rie, bootstrap string, f Function) (time.Duration, error) {
	ports, err := freePorts(2)
	if err != nil {
		return 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]), "--log-level", "error", bootstrap)
	for k, v := range environ(f) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	ownGroup(cmd)
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the runtime interface emulator: %w", err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer stop(cmd, exited)
	deadline := start.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, fmt.Errorf("the emulator exited (%w): %s", waitErr, bytes.TrimSpace(logs.Bytes()))
		default:
		}
		resp, err := client.Post(url, "application/json", strings.NewReader(Payload))
		if err != nil {
			var opErr *net.OpError
			if errors.As(err, &opErr) { // not listening yet
				time.Sleep(time.Millisecond)
				continue
			}
			return 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			d := time.Since(start)
			if bytes.Contains(body, []byte(`"errorType"`)) {
				return 0, fmt.Errorf("the function failed: %s\n%s", body, bytes.TrimSpace(logs.Bytes()))
			}
			return d, nil
		}
		return 0, fmt.Errorf("invocation answered HTTP %d: %s\n%s", resp.StatusCode, body, bytes.TrimSpace(logs.Bytes()))
	}
	return 0, fmt.Errorf("no answer within 30 s: %s", bytes.TrimSpace(logs.Bytes()))
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WriteTable writes the results as a table.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tbinary\tvs hello\tcold start (median)\tvs hello\truns\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.1f MiB\t%.2f×\t%.1f ms\t%.2f×\t%d\t\n", r.Name, float64(r.SizeBytes)/(1<<20), r.SizeRatio,
			float64(r.ColdStart.Microseconds())/1000, r.StartRatio, len(r.Runs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nbinaries for this machine, built with CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags=\"-s -w\"; cold start: from starting aws-lambda-rie to the first 200 answer to %s\n", Payload)
	return err
}
