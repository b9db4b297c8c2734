package lambdasim_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/jobwatch/jobwatch/internal/lambdasim"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRIE runs the notify function's bootstrap under the Runtime Interface
// Emulator: an empty batch succeeds, a payload it cannot decode comes back
// as a function error, and its JSON logs reach Output.
func TestRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the emulator and a function")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	rie, err := lambdasim.BuildRIE(ctx, "../..", dir)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := lambdasim.BuildFunction(ctx, "../..", "./functions/notify", bootstrap); err != nil {
		t.Fatal(err)
	}
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
