package functions_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/jobwatch/jobwatch"

// TestFunctionsImportNoTooling fails when a deployed function, or a product
// package it imports, depends on development tooling (internal/dev: the
// emulator, the local stack, the bench, the soak, the demo…): tooling
// stays out of the Lambda binaries.
func TestFunctionsImportNoTooling(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var product int
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module+"/") {
			continue
		}
		product++
		if strings.HasPrefix(pkg, module+"/internal/dev/") || strings.HasPrefix(pkg, module+"/cmd/") {
			t.Errorf("a Lambda function depends on %s, which is development tooling", pkg)
		}
	}
	if product < 5 {
		t.Errorf("go list found %d of the module's packages behind the functions; want the product packages", product)
	}
}
