package amplify_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// FuzzDecodeInput feeds the dispatch table operation names and inputs,
// seeded from the job requests in events/submit: it must never panic,
// every rejection must say which operation and member, and what it
// accepts must survive a round trip through the member-name encoding.
func FuzzDecodeInput(f *testing.F) {
	files, _ := filepath.Glob("../../events/submit/*.json")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		var ev struct {
			Detail    json.RawMessage `json:"detail"`
			Operation string          `json:"operation"`
			Input     json.RawMessage `json:"input"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			continue
		}
		if len(ev.Detail) > 0 {
			_ = json.Unmarshal(ev.Detail, &ev)
		}
		if ev.Operation != "" {
			f.Add(ev.Operation, []byte(ev.Input))
		}
	}
	f.Add("ListBackendJobs", []byte(`{"AppId":"d1","BackendEnvironmentName":"dev","MaxResults":25}`))
	f.Fuzz(func(t *testing.T, name string, input []byte) {
		op, err := amplify.LookupOperation(name)
		if err != nil {
			var unknown *amplify.UnknownOperationError
			if !errors.As(err, &unknown) {
				t.Fatalf("LookupOperation error %T: %v", err, err)
			}
			return
		}
		in, err := op.DecodeInput(input)
		if err != nil {
			var ie *amplify.InputError
			if !errors.As(err, &ie) || ie.Operation != op.Name {
				t.Fatalf("rejection %v does not name the operation", err)
			}
			return
		}
		out, err := amplify.EncodeOutput(in)
		if err != nil {
			t.Fatalf("encode accepted input: %v", err)
		}
		again, err := op.DecodeInput(out)
		if err != nil || !reflect.DeepEqual(in, again) {
			t.Fatalf("round trip: %v\n%v\n%v", err, in, again)
		}
	})
}
