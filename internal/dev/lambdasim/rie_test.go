package lambdasim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
)

// buildFunction builds the Runtime Interface Emulator and the bootstrap
// of the function package pkg, skipping the test in -short mode.
func buildFunction(ctx context.Context, t *testing.T, pkg string) (rie, bootstrap string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the emulator and a function")
	}
	dir := t.TempDir()
	rie, err := lambdasim.BuildRIE(ctx, "../../..", dir)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	if err := lambdasim.BuildFunction(ctx, "../../..", pkg, bootstrap); err != nil {
		t.Fatal(err)
	}
	return rie, bootstrap
}

// TestRIE runs the notify function's bootstrap under the Runtime Interface
// Emulator: an empty batch succeeds, a payload it cannot decode comes back
// as a function error, and its JSON logs reach Output.
func TestRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rie, bootstrap := buildFunction(ctx, t, "./functions/notify")
	var logs bytes.Buffer
	f, err := lambdasim.StartRIE(ctx, lambdasim.RIEConfig{RIE: rie, Bootstrap: bootstrap, Name: "NotifyFunction", Timeout: 30 * time.Second, Output: &logs,
		Env: map[string]string{
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
			"EVENT_BUS_NAME": "jobwatch", "ACCOUNT_ID": "123456789012", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	out, err := f.Invoke(ctx, []byte(`{"Records":[]}`))
	if err != nil || !strings.Contains(string(out), "batchItemFailures") {
		t.Fatalf("empty batch: %s, %v", out, err)
	}
	_, err = f.Invoke(ctx, []byte(`"not an event"`))
	var fe *lambdasim.FunctionError
	if !errors.As(err, &fe) || fe.Type == "" || !strings.Contains(fe.Message, "cannot unmarshal") {
		t.Errorf("bad payload: err = %v, want a function error", err)
	}
	f.Close()
	if !strings.Contains(logs.String(), `"msg":"batch done"`) {
		t.Errorf("function logs missing from output:\n%s", logs.String())
	}
}

// TestRIEKillRuntime kills the poll function's runtime process while it
// handles a batch (its Admin API call hangs): the invocation fails as a
// crashed Lambda's does, and the next invocation gets a fresh runtime.
func TestRIEKillRuntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rie, bootstrap := buildFunction(ctx, t, "./functions/poll")
	// An Admin API that accepts connections and never answers.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	var logs bytes.Buffer
	f, err := lambdasim.StartRIE(ctx, lambdasim.RIEConfig{RIE: rie, Bootstrap: bootstrap, Name: "PollFunction", Timeout: 30 * time.Second, Output: &syncWriter{w: &logs},
		Env: map[string]string{
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
			"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_AMPLIFYBACKEND": "http://" + hang.Addr().String(),
			"JOBS_QUEUE_URL": "http://127.0.0.1:1/123456789012/jobs", "COMPLETIONS_QUEUE_URL": "http://127.0.0.1:1/123456789012/completions",
			"WAITING_QUEUE_URL": "http://127.0.0.1:1/123456789012/waiting", "ALLOWED_APP_IDS": "d1abc23",
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.KillRuntime(); err == nil {
		t.Error("KillRuntime before the first invocation: want an error (no runtime runs yet)")
	}

	batch := `{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{\"v\":1,\"appId\":\"d1abc23\",\"backendEnvironmentName\":\"dev\",\"jobId\":\"j1\",\"operation\":\"CloneBackend\",\"submittedAt\":\"2026-01-01T00:00:00Z\",\"deadline\":\"2099-01-01T00:00:00Z\"}"}]}`
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := f.Invoke(ctx, []byte(batch))
		done <- result{out, err}
	}()
	time.Sleep(time.Second) // the lookup hangs
	start := time.Now()
	if err := f.KillRuntime(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err == nil {
			t.Errorf("invocation whose runtime was killed succeeded: %s", r.out)
		}
		t.Logf("killed invocation: %v (answered %s after the kill)", r.err, time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the killed invocation did not end")
	}

	// A fresh runtime serves the next invocations.
	for i := range 2 {
		out, err := f.Invoke(ctx, []byte(`{"Records":[]}`))
		if err != nil || !strings.Contains(string(out), "batchItemFailures") {
			t.Fatalf("invocation %d after the kill: %s, %v", i+1, out, err)
		}
	}
	f.Close()
	if n := strings.Count(logs.String(), `"msg":"poll ready"`); n != 2 {
		t.Errorf("the runtime initialised %d times, want 2 (at the first invocation and after the kill):\n%s", n, logs.String())
	}
}

// syncWriter serialises writes from the emulator's output goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
