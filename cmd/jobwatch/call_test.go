package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// runCLI runs jobwatch with args and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// fakeService records requests and answers like the Admin API would.
func fakeService(t *testing.T, status int, errType, body string) (*httptest.Server, *atomic.Int32, *[]string) {
	t.Helper()
	var calls atomic.Int32
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.EscapedPath()+" "+string(b))
		if errType != "" {
			w.Header().Set("X-Amzn-ErrorType", errType)
		}
		w.Header().Set("x-amzn-RequestId", "rid-7")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRETEXAMPLE")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_MAX_ATTEMPTS", "3")
	return srv, &calls, &seen
}

func TestCallPrintsOutput(t *testing.T) {
	srv, _, seen := fakeService(t, 200, "", `{"appId":"d1","backendEnvironmentName":"dev","jobId":"j-1","operation":"cloneBackend","status":"RUNNING","unmodeled":"x"}`)
	code, stdout, stderr := runCLI(t, "call", "CloneBackend", "--endpoint-url", srv.URL,
		"--input", `{"AppId":"d1","BackendEnvironmentName":"dev","TargetEnvironmentName":"preview"}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not JSON: %q", stdout)
	}
	want := map[string]any{"AppId": "d1", "BackendEnvironmentName": "dev", "JobId": "j-1", "Operation": "cloneBackend", "Status": "RUNNING"}
	if fmt.Sprint(out) != fmt.Sprint(want) {
		t.Errorf("output = %v, want %v", out, want)
	}
	if got := (*seen)[0]; got != `POST /backend/d1/environments/dev/clone {"targetEnvironmentName":"preview"}` {
		t.Errorf("request = %s", got)
	}
}

func TestCallInputFromFile(t *testing.T) {
	srv, _, seen := fakeService(t, 200, "", `{"buckets":[{"name":"b1"}]}`)
	file := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(file, []byte(`{"NextToken":"t1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "call", "--endpoint-url", srv.URL, "list-s3-buckets", "--input", "@"+file)
	if code != 0 || !strings.Contains(stdout, `"Name": "b1"`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.HasSuffix((*seen)[0], `{"nextToken":"t1"}`) {
		t.Errorf("request = %s", (*seen)[0])
	}
}

func TestCallErrors(t *testing.T) {
	tests := map[string]struct {
		status        int
		errType, body string
		args          []string
		wantCode      int
		wantCalls     int32
		wantStderr    []string
	}{
		"not found fails after one request": {
			status: 404, errType: "NotFoundException", body: `{"message":"Job j-9 not found"}`,
			args:     []string{"call", "GetBackendJob", "--input", `{"AppId":"d1","BackendEnvironmentName":"dev","JobId":"j-9"}`},
			wantCode: 254, wantCalls: 1,
			wantStderr: []string{"An error occurred (NotFoundException) when calling the GetBackendJob operation: Job j-9 not found", "Request ID: rid-7"},
		},
		"throttling is retried before failing": {
			status: 429, errType: "TooManyRequestsException", body: `{"message":"Rate exceeded"}`,
			args:     []string{"call", "get_backend", "--input", `{"AppId":"d1"}`},
			wantCode: 254, wantCalls: 3,
			wantStderr: []string{"(TooManyRequestsException) when calling the GetBackend operation: Rate exceeded"},
		},
		"unknown operation lists the operations": {
			args: []string{"call", "CloneBackends"}, wantCode: 2,
			wantStderr: []string{`unknown operation "CloneBackends"`, "operations:", "  UpdateBackendStorage"},
		},
		"no operation": {
			args: []string{"call"}, wantCode: 2, wantStderr: []string{"want exactly one OPERATION", "  CloneBackend"},
		},
		"bad input names the member": {
			args: []string{"call", "CloneBackend", "--input", `{"AppId":"d1","BackendEnvironmentName":"dev"}`}, wantCode: 2,
			wantStderr: []string{"CloneBackend input: missing required member TargetEnvironmentName"},
		},
		"missing input file": {
			args: []string{"call", "GetBackend", "--input", "@/nonexistent/in.json"}, wantCode: 2,
			wantStderr: []string{"read --input file"},
		},
		"unknown flag": {
			args: []string{"call", "GetBackend", "--inptu", "{}"}, wantCode: 2,
			wantStderr: []string{"flag provided but not defined: -inptu"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv, calls, _ := fakeService(t, tc.status, tc.errType, tc.body)
			args := append(append([]string(nil), tc.args...), "--endpoint-url", srv.URL)
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.wantCode {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
			if calls.Load() != tc.wantCalls {
				t.Errorf("requests = %d, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}
