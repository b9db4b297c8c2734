package notify

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const schemaDir = "../../schemas"

// TestSchemaRefusesBadEvents checks the schema says no to events a
// consumer must not receive, so that passing it means something.
func TestSchemaRefusesBadEvents(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(schemaDir, "examples", "event-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	validateEvent(t, example)
	for name, edit := range map[string]func(ev, detail map[string]any){
		"other detail-type": func(ev, _ map[string]any) { ev["detail-type"] = "Amplify Deployment Status Change" },
		"aws source":        func(ev, _ map[string]any) { ev["source"] = "aws.amplifybackend" },
		"no resources":      func(ev, _ map[string]any) { ev["resources"] = []string{} },
		"resource not a job": func(ev, _ map[string]any) {
			ev["resources"] = []string{"arn:aws:amplify:us-east-1:123456789012:apps/d1abc23"}
		},
		"unknown status":          func(_, d map[string]any) { d["status"] = "CANCELLED" },
		"missing eventKey":        func(_, d map[string]any) { delete(d, "eventKey") },
		"eventKey without status": func(_, d map[string]any) { d["eventKey"] = "d1abc23/preview/8a0d2e77" },
		"polls not an integer":    func(_, d map[string]any) { d["polls"] = 1.5 },
		"negative duration":       func(_, d map[string]any) { d["durationSeconds"] = -1 },
		"detectedAt not a time":   func(_, d map[string]any) { d["detectedAt"] = "yesterday" },
		"version 2":               func(_, d map[string]any) { d["version"] = 2 },
		"unlisted field":          func(_, d map[string]any) { d["jobID"] = "x" },
		"no job and no request":   func(_, d map[string]any) { d["jobId"] = "" },
	} {
		t.Run(name, func(t *testing.T) {
			var ev map[string]any
			if err := json.Unmarshal(example, &ev); err != nil {
				t.Fatal(err)
			}
			edit(ev, ev["detail"].(map[string]any))
			data, _ := json.Marshal(ev)
			if schemaError(t, data) == nil {
				t.Errorf("schema accepts %s", data)
			}
		})
	}
}

// TestSchemaREADMEShowsTheExamples keeps the README's JSON blocks equal
// to the example files the tests use.
func TestSchemaREADMEShowsTheExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(schemaDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]bool{}
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(readme, -1) {
		blocks[compact(t, m[1])] = true
	}
	examples, err := filepath.Glob(filepath.Join(schemaDir, "examples", "*.json"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range examples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !blocks[compact(t, data)] {
			t.Errorf("README.md does not show %s as it is", filepath.Base(f))
		}
		if strings.HasPrefix(filepath.Base(f), "event-") {
			validateEvent(t, data)
		}
	}
}

func compact(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return b.String()
}
