package amplify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// botocoreCase is one operation as botocore serializes and boto3 parses it
// (see testdata/botocore_cases.py).
type botocoreCase struct {
	Operation     string          `json:"operation"`
	SnakeName     string          `json:"snakeName"`
	Input         json.RawMessage `json:"input"`
	InputMembers  []string        `json:"inputMembers"`
	Method        string          `json:"method"`
	Path          string          `json:"path"`
	Body          string          `json:"body"`
	ContentType   string          `json:"contentType"`
	Authorization string          `json:"authorization"`
	ResponseBody  json.RawMessage `json:"responseBody"`
	Output        json.RawMessage `json:"output"`
}

// loadBotocoreCases runs botocore on this machine; CI has it, so a missing
// botocore only skips on a developer's machine.
func loadBotocoreCases(t *testing.T) []botocoreCase {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	if err := exec.Command("python3", "-c", "import botocore").Run(); err != nil {
		t.Skip("botocore not installed")
	}
	out, err := exec.Command("python3", "testdata/botocore_cases.py").Output()
	if err != nil {
		var ee *exec.ExitError
		if errorsAs(err, &ee) {
			t.Fatalf("botocore_cases.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("botocore_cases.py: %v", err)
	}
	var doc struct {
		Operations []botocoreCase `json:"operations"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("decode botocore cases: %v", err)
	}
	return doc.Operations
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// TestMatchesBotocore replays every operation of botocore's model through
// our dispatch table and client, and checks the request is the one botocore
// sends and the printed output the one boto3 parses.
func TestMatchesBotocore(t *testing.T) {
	cases := loadBotocoreCases(t)
	if got, want := len(cases), len(amplify.Operations()); got != want {
		t.Errorf("botocore has %d operations, our client %d", got, want)
	}
	for _, tc := range cases {
		t.Run(tc.Operation, func(t *testing.T) {
			op, err := amplify.LookupOperation(tc.Operation)
			if err != nil {
				t.Fatalf("operation missing from our client: %v", err)
			}
			for _, name := range []string{tc.SnakeName, op.CLIName()} {
				if o, err := amplify.LookupOperation(name); err != nil || o != op {
					t.Errorf("LookupOperation(%q) = %v, %v; want %s", name, o, err, op.Name)
				}
			}
			if op.SnakeName != tc.SnakeName {
				t.Errorf("SnakeName = %q, botocore's xform_name gives %q", op.SnakeName, tc.SnakeName)
			}
			checkMembersCovered(t, op, tc.InputMembers)

			var got struct {
				method, path, contentType, auth string
				body                            []byte
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.method, got.path = r.Method, r.URL.EscapedPath()
				got.contentType = r.Header.Get("Content-Type")
				got.auth = r.Header.Get("Authorization")
				got.body, _ = io.ReadAll(r.Body)
				w.Header().Set("x-amzn-RequestId", "req-1")
				_, _ = w.Write(tc.ResponseBody)
			}))
			defer srv.Close()

			out, err := op.Invoke(context.Background(), newTestClient(srv.URL), tc.Input)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got.method != tc.Method {
				t.Errorf("method = %s, botocore sends %s", got.method, tc.Method)
			}
			if got.path != tc.Path {
				t.Errorf("path = %s, botocore sends %s", got.path, tc.Path)
			}
			if got.contentType != tc.ContentType {
				t.Errorf("Content-Type = %q, botocore sends %q", got.contentType, tc.ContentType)
			}
			if !jsonEqual(t, got.body, []byte(tc.Body)) {
				t.Errorf("body = %s, botocore sends %s", got.body, tc.Body)
			}
			ours, theirs := credentialScope.FindStringSubmatch(got.auth), credentialScope.FindStringSubmatch(tc.Authorization)
			if ours == nil || theirs == nil || !slices.Equal(ours[1:], theirs[1:]) {
				t.Errorf("signature scope = %q, botocore signs %q", got.auth, tc.Authorization)
			}
			if !jsonEqual(t, out, tc.Output) {
				t.Errorf("output = %s, boto3 parses %s", out, tc.Output)
			}
		})
	}
}

// checkMembersCovered fails if the model has an input member our typed
// input lacks.
func checkMembersCovered(t *testing.T, op *amplify.Operation, members []string) {
	t.Helper()
	typ := reflect.TypeOf(op.NewInput()).Elem()
	for _, m := range members {
		if _, ok := typ.FieldByName(m); !ok {
			t.Errorf("%s has no member %s", typ.Name(), m)
		}
	}
}

// jsonEqual compares two JSON documents by value; two empty bodies are
// equal, an empty and a non-empty one are not.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not JSON: %s", a)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return reflect.DeepEqual(va, vb)
}
