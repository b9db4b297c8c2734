package lambdasim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RIEConfig describes one function to run under the AWS Lambda Runtime
// Interface Emulator, the same emulator `sam local invoke` runs inside its
// container.
type RIEConfig struct {
	// RIE is the path of the aws-lambda-rie binary.
	RIE string
	// Bootstrap is the function's executable, built for this machine.
	Bootstrap string
	// Name, Timeout and MemoryMB are what Lambda would tell the function.
	Name     string
	Timeout  time.Duration
	MemoryMB int
	// Env is the function's environment (from the template, resolved) plus
	// AWS_REGION, credentials and endpoint overrides. Nothing else from this
	// process's environment leaks in.
	Env map[string]string
	// Output receives the emulator's and the function's logs, whole lines
	// at a time.
	Output io.Writer
}

// RIEFunction is a function running under the Runtime Interface Emulator.
type RIEFunction struct {
	cfg RIEConfig
	cmd *exec.Cmd
	url string
	mu  sync.Mutex // the emulator runs one invocation at a time
	// done is closed when the emulator exited, with exit its status.
	done chan struct{}
	exit error
	stop sync.Once
}

// StartRIE starts the emulator with the function and waits until it
// accepts invocations.
func StartRIE(ctx context.Context, cfg RIEConfig) (*RIEFunction, error) {
	if _, err := os.Stat(cfg.RIE); err != nil {
		return nil, fmt.Errorf("runtime interface emulator: %w", err)
	}
	if _, err := os.Stat(cfg.Bootstrap); err != nil {
		return nil, fmt.Errorf("function %s: %w", cfg.Name, err)
	}
	invokePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(invokePort)
	cmd := exec.Command(cfg.RIE,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--log-level", "error",
		cfg.Bootstrap)
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(max(cfg.Timeout, time.Second) / time.Second)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(max(cfg.MemoryMB, 128)),
		"PATH":                            os.Getenv("PATH"),
		"TZ":                              "UTC",
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out := &lineWriter{w: io.Discard}
	if cfg.Output != nil {
		out.w = cfg.Output
	}
	cmd.Stdout, cmd.Stderr = out, out
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start runtime interface emulator for %s: %w", cfg.Name, err)
	}
	f := &RIEFunction{cfg: cfg, cmd: cmd, url: "http://" + addr + "/2015-03-31/functions/function/invocations", done: make(chan struct{})}
	go func() {
		f.exit = cmd.Wait()
		out.Flush()
		close(f.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-f.done:
			f.stop.Do(func() {}) // already exited: nothing to stop
			return nil, fmt.Errorf("runtime interface emulator for %s exited: %w", cfg.Name, f.exit)
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return f, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Close()
	return nil, fmt.Errorf("runtime interface emulator for %s did not listen on %s", cfg.Name, addr)
}

// Invoke sends one invocation and returns the function's response; a
// function error comes back as a *FunctionError, as Lambda reports it.
func (f *RIEFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.cfg.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read response: %w", f.cfg.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke %s: HTTP %d: %s", f.cfg.Name, resp.StatusCode, bytes.TrimSpace(body))
	}
	if fe := functionError(body); fe != nil {
		return nil, fe
	}
	return body, nil
}

// functionError recognises the error document a Lambda runtime posts for
// a function error: an object with errorMessage and errorType.
func functionError(body []byte) *FunctionError {
	var doc struct {
		Message *string `json:"errorMessage"`
		Type    *string `json:"errorType"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Message != nil && doc.Type != nil {
		return &FunctionError{Type: *doc.Type, Message: *doc.Message}
	}
	return nil
}

// Close stops the emulator and the function; calling it again does nothing.
func (f *RIEFunction) Close() error {
	f.stop.Do(func() {
		_ = f.cmd.Process.Signal(os.Interrupt)
		select {
		case <-f.done:
		case <-time.After(3 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
	})
	return nil
}

// KillRuntime kills the function's runtime process — the bootstrap the
// emulator started, not the emulator — with SIGKILL, as a crash or an
// out-of-memory kill ends a Lambda execution environment. An invocation in
// flight fails with an error (the emulator answers that the runtime
// exited), so an SQS event source leaves its whole batch for redelivery
// after the visibility timeout; the next invocation starts a fresh runtime
// process (a cold start), as Lambda does. It needs /proc (Linux) to find
// the process; it returns an error when no runtime process runs, e.g.
// before the first invocation initialised one.
func (f *RIEFunction) KillRuntime() error {
	pids, err := childProcesses(f.cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("kill the runtime of %s: %w", f.cfg.Name, err)
	}
	if len(pids) == 0 {
		return fmt.Errorf("kill the runtime of %s: no runtime process runs under the emulator (pid %d)", f.cfg.Name, f.cmd.Process.Pid)
	}
	var errs []error
	for _, pid := range pids {
		p, err := os.FindProcess(pid)
		if err == nil {
			err = p.Kill()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("kill the runtime of %s (pid %d): %w", f.cfg.Name, pid, err))
		}
	}
	return errors.Join(errs...)
}

// childProcesses lists the processes whose parent is ppid, from
// /proc/<pid>/stat ("pid (comm) state ppid ..."; comm may hold spaces and
// parentheses, so the fields are read after its last ')').
func childProcesses(ppid int) ([]int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	if len(stats) == 0 {
		return nil, errors.New("no /proc to find processes in")
	}
	var pids []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(ppid) {
			continue
		}
		head, _, _ := strings.Cut(s, " ")
		if pid, err := strconv.Atoi(head); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
