package amplify_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the operations, shapes and errors
// from the committed model and fails if the committed code differs: edit
// the generator or the model, never the generated files.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "../dev/codegen", "-model", "../dev/codegen/service-2.json.gz", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("codegen: %v\n%s", err, b)
	}
	generated, err := filepath.Glob(filepath.Join(out, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	typesFiles, _ := filepath.Glob(filepath.Join(out, "types", "*.go"))
	generated = append(generated, typesFiles...)
	if len(generated) != 31+1+3 {
		t.Fatalf("generator wrote %d files, want 35", len(generated))
	}
	for _, path := range generated {
		rel, _ := filepath.Rel(out, path)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(rel)
		if err != nil {
			t.Errorf("%s is generated but not committed: run go generate ./internal/amplify", rel)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run go generate ./internal/amplify", rel)
		}
	}
}
