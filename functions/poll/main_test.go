package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runMainEnv makes the test binary run main instead of the tests.
const runMainEnv = "JOBWATCH_POLL_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestBadConfigurationFailsAtStart starts the function without the
// allowed apps, and with an empty list of them: it refuses to start,
// naming the setting.
func TestBadConfigurationFailsAtStart(t *testing.T) {
	queues := []string{"JOBS_QUEUE_URL=http://127.0.0.1:1/123456789012/jobs",
		"COMPLETIONS_QUEUE_URL=http://127.0.0.1:1/123456789012/completions", "WAITING_QUEUE_URL=http://127.0.0.1:1/123456789012/waiting"}
	for name, env := range map[string][]string{
		"no allowed apps":    queues,
		"an empty app list":  append(queues, "ALLOWED_APP_IDS= , "),
		"nothing set at all": nil,
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append([]string{runMainEnv + "=1", "HOME=" + t.TempDir()}, env...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			var exit *exec.ExitError
			if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; output:\n%s", err, &out)
			}
			if !strings.Contains(out.String(), "setting ALLOWED_APP_IDS: is required") {
				t.Errorf("the error does not name ALLOWED_APP_IDS:\n%s", &out)
			}
		})
	}
}
