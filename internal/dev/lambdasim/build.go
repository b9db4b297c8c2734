package lambdasim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RIEPackage is the Go package of the Runtime Interface Emulator, pinned
// as a tool in go.mod.
const RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// BuildRIE builds the Runtime Interface Emulator into dir and returns its
// path; the module's go.mod pins its version.
func BuildRIE(ctx context.Context, moduleDir, dir string) (string, error) {
	out := filepath.Join(dir, "aws-lambda-rie")
	return out, goBuild(ctx, moduleDir, out, RIEPackage, nil)
}

// BuildFunction builds a function's bootstrap for this machine (the
// deployed one is linux/arm64; locally the emulator runs the host's
// architecture) the way the Makefile builds it for Lambda.
func BuildFunction(ctx context.Context, moduleDir, pkg, out string) error {
	return goBuild(ctx, moduleDir, out, pkg, []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"})
}

func goBuild(ctx context.Context, moduleDir, out, pkg string, flags []string) error {
	args := append([]string{"build", "-o", out}, flags...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
