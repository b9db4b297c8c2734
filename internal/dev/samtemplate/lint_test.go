package samtemplate

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCfnLint lints template.yaml: any finding, warning or error, fails.
// testdata/lint-bad.yaml is linted in the same run and must have findings,
// so that a cfn-lint that checks nothing cannot pass the template.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed (CI's machine image has it)")
	}
	bad := filepath.Join("testdata", "lint-bad.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, lint, "--format", "parseable", "--", templatePath, bad)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("cfn-lint: %v", err)
	}
	if stderr.Len() > 0 {
		t.Errorf("cfn-lint wrote to stderr:\n%s", stderr.String())
	}
	var badFindings int
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, bad+":"):
			badFindings++
		default:
			t.Errorf("cfn-lint: %s", line)
		}
	}
	if badFindings == 0 {
		t.Errorf("cfn-lint found nothing wrong with %s (exit %v); the check cannot be trusted", bad, err)
	}
}
