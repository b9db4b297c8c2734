package samtemplate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// GoPackage returns the Go package `sam build` builds into the function's
// bootstrap, relative to CodeDir ("./functions/submit"), so that the same
// code can be built for this machine. With BuildMethod makefile it asks make
// for the recipe `sam build` runs — make --dry-run build-<LogicalID> in
// CodeDir, so make's variables and functions are expanded — and takes the
// package argument that ends its go build command; with go1.x, SAM's Go
// builder, it is CodeDir itself (".").
func (f *Function) GoPackage() (string, error) {
	switch f.BuildMethod {
	case "go1.x":
		return ".", nil
	case "makefile":
	default:
		return "", fmt.Errorf("%s: BuildMethod %q; want makefile or go1.x", f.LogicalID, f.BuildMethod)
	}
	if _, err := os.Stat(filepath.Join(f.CodeDir, "Makefile")); err != nil {
		return "", fmt.Errorf("%s: %w", f.LogicalID, err)
	}
	target := "build-" + f.LogicalID
	cmd := exec.Command("make", "--no-print-directory", "--dry-run", "-C", f.CodeDir, target, "ARTIFACTS_DIR=.aws-sam/build/"+f.LogicalID)
	// A make running this (make test) must not pass its flags or jobserver on.
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: make --dry-run %s in %s: %w: %s", f.LogicalID, target, f.CodeDir, err, strings.TrimSpace(stderr.String()))
	}
	pkg, err := goBuildPackage(string(out))
	if err != nil {
		return "", fmt.Errorf("%s: make target %s in %s: %w", f.LogicalID, target, f.CodeDir, err)
	}
	return pkg, nil
}

// goBuildPackage finds the go build command among the commands of a
// recipe, as make prints them, and returns its last argument, the package,
// which must be a relative path.
func goBuildPackage(recipe string) (string, error) {
	recipe = strings.ReplaceAll(recipe, "\\\n", " ")
	for _, line := range strings.Split(recipe, "\n") {
		for _, cmd := range strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '&' || r == '|' }) {
			words := strings.Fields(cmd)
			i := slices.Index(words, "build")
			if i < 1 || words[i-1] != "go" && !strings.HasSuffix(words[i-1], "/go") {
				continue
			}
			pkg := strings.Trim(words[len(words)-1], `"'`)
			if pkg != "." && !strings.HasPrefix(pkg, "./") {
				return "", fmt.Errorf("the go build command %q does not end with a relative package path", strings.TrimSpace(cmd))
			}
			return pkg, nil
		}
	}
	return "", errors.New("no go build command in the recipe")
}
