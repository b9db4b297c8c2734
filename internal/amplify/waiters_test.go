package amplify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// scriptedJob answers GetBackendJob from a script of responses, the last
// one repeating: "404" is NotFound, anything else a status.
func scriptedJob(script ...string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		step := script[min(i, len(script)-1)]
		if step == "404" {
			w.Header().Set("X-Amzn-ErrorType", "NotFoundException")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"job not found"}`)
			return
		}
		body := fmt.Sprintf(`{"jobId":"j1","operation":"CloneBackend","status":%q}`, step)
		if step == "FAILED" {
			body = `{"jobId":"j1","operation":"CloneBackend","status":"FAILED","error":"stack rollback: bucket exists"}`
		}
		fmt.Fprint(w, body)
	})), &calls
}

func fastWaiter(o *amplify.BackendJobCompletedWaiterOptions) {
	o.MinDelay = time.Millisecond
	o.MaxDelay = 5 * time.Millisecond
	o.NotFoundGrace = time.Minute
}

func TestBackendJobCompletedWaiter(t *testing.T) {
	tests := map[string]struct {
		script    []string
		opts      func(*amplify.BackendJobCompletedWaiterOptions)
		maxWait   time.Duration
		wantErr   func(error) bool
		wantCalls int32
	}{
		"completes after running": {
			script: []string{"RUNNING", "RUNNING", "COMPLETED"}, maxWait: 5 * time.Second, wantCalls: 3,
		},
		"failed names the job's error": {
			script: []string{"RUNNING", "FAILED"}, maxWait: 5 * time.Second, wantCalls: 2,
			wantErr: func(err error) bool {
				var f *amplify.JobFailedError
				return errors.As(err, &f) && strings.Contains(err.Error(), "stack rollback: bucket exists") && f.JobId == "j1"
			},
		},
		"not found within the grace period is waited out": {
			script: []string{"404", "404", "RUNNING", "COMPLETED"}, maxWait: 5 * time.Second, wantCalls: 4,
		},
		"not found after the grace period fails": {
			script: []string{"404"}, maxWait: 5 * time.Second, wantCalls: 1,
			opts: func(o *amplify.BackendJobCompletedWaiterOptions) {
				o.SubmittedAt = time.Now().Add(-time.Hour)
			},
			wantErr: func(err error) bool { var nf *types.NotFoundException; return errors.As(err, &nf) },
		},
		"never ends: times out": {
			script: []string{"RUNNING"}, maxWait: 50 * time.Millisecond,
			wantErr: func(err error) bool { return errors.Is(err, amplify.ErrWaitTimeout) },
		},
		"unknown status keeps waiting": {
			script: []string{"QUEUED", "COMPLETED"}, maxWait: 5 * time.Second, wantCalls: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv, calls := scriptedJob(tc.script...)
			defer srv.Close()
			opts := []func(*amplify.BackendJobCompletedWaiterOptions){fastWaiter}
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			w := amplify.NewBackendJobCompletedWaiter(newTestClient(srv.URL), opts...)
			out, err := w.WaitForOutput(context.Background(), getJobInput(), tc.maxWait)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("err = %v, not the expected error", err)
			case tc.wantErr == nil && (out == nil || *out.Status != "COMPLETED"):
				t.Fatalf("out = %v", out)
			}
			if tc.wantCalls != 0 && calls.Load() != tc.wantCalls {
				t.Errorf("GetBackendJob calls = %d, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}

func TestWaiterCancellation(t *testing.T) {
	srv, _ := scriptedJob("RUNNING")
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := amplify.NewBackendJobCompletedWaiter(newTestClient(srv.URL), fastWaiter).Wait(ctx, getJobInput(), time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestWaiterNeedsMaxWait(t *testing.T) {
	err := amplify.NewBackendJobCompletedWaiter(newTestClient("http://127.0.0.1:1")).Wait(context.Background(), getJobInput(), 0)
	if err == nil || !strings.Contains(err.Error(), "maximum wait time") {
		t.Errorf("err = %v", err)
	}
}
