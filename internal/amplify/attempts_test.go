package amplify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/smithy-go/middleware"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// TestObserveAttempts checks the observer sees every attempt, retries
// included, with its operation and whether the service throttled it: a
// lookup throttled twice and then answered is three calls, two throttled;
// one failing with 503 three times is three calls, none throttled.
func TestObserveAttempts(t *testing.T) {
	answers := []int{429, 429, 200, 503, 503, 503}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch status := answers[n.Add(1)-1]; status {
		case 200:
			fmt.Fprint(w, `{"jobId":"j1","status":"RUNNING"}`)
		case 429:
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(status)
			fmt.Fprint(w, `{"message":"Rate exceeded"}`)
		default:
			w.Header().Set("X-Amzn-ErrorType", "ServiceUnavailableException")
			w.WriteHeader(status)
			fmt.Fprint(w, `{"message":"down"}`)
		}
	}))
	defer srv.Close()
	var mu sync.Mutex
	var seen []string
	client := newTestClient(srv.URL, amplify.ObserveAttempts(func(op string, throttled bool) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s throttled=%v", op, throttled))
	}))
	if _, err := client.GetBackendJob(context.Background(), getJobInput()); err != nil {
		t.Fatalf("the third attempt should succeed: %v", err)
	}
	if _, err := client.GetBackendJob(context.Background(), getJobInput()); err == nil {
		t.Fatal("three 503s: want an error")
	}
	want := "GetBackendJob throttled=true|GetBackendJob throttled=true|GetBackendJob throttled=false|" +
		"GetBackendJob throttled=false|GetBackendJob throttled=false|GetBackendJob throttled=false"
	if got := strings.Join(seen, "|"); got != want {
		t.Errorf("observed\n %s\nwant\n %s", got, want)
	}
}

// TestObserveAttemptsPlace checks the observer sits right after Retry,
// inside the retry loop, and only when asked for.
func TestObserveAttemptsPlace(t *testing.T) {
	var captured string
	capture := func(o *amplify.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			captured = strings.Join(s.Finalize.List(), " ")
			return errStackCaptured
		})
	}
	_, _ = newTestClient("http://127.0.0.1:1", amplify.ObserveAttempts(func(string, bool) {})).GetBackendJob(context.Background(), getJobInput(), capture)
	if !strings.Contains(captured, "Retry ObserveAttempts ComputePayloadHash") {
		t.Errorf("finalize step:\n%s\nwant ObserveAttempts right after Retry", captured)
	}
}
