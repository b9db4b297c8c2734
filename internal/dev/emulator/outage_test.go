package emulator_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// checkUnavailable checks that err is the outage's answer as the Go
// client sees it: 503 ServiceUnavailableException, which the SDK's
// standard retryer retries.
func checkUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if code := asError[smithy.APIError](t, err).ErrorCode(); code != "ServiceUnavailableException" {
		t.Fatalf("%s during the outage: %s, want ServiceUnavailableException", what, code)
	}
	wantHTTPStatus(t, err, 503)
	if !retry.NewStandard().IsErrorRetryable(err) {
		t.Errorf("%s: the SDK would not retry %v", what, err)
	}
}

// TestOutage runs an outage on the emulator's clock: before it the
// service answers, during it every call (unsigned and unknown ones too) is
// answered 503 while jobs go on running, and after it the service answers
// again.
func TestOutage(t *testing.T) {
	f := start(t, emulator.Config{Faults: emulator.Faults{OutageAfter: 10 * time.Second, OutageFor: time.Minute}})
	job, err := clone(f, "dev", "pr-1") // runs 3s, ending during the outage
	if err != nil {
		t.Fatalf("CloneBackend before the outage: %v", err)
	}
	f.clock.Advance(10 * time.Second)
	calls := map[string]func() error{
		"GetBackend":    func() error { return getBackend(f) },
		"GetBackendJob": func() error { _, err := getJob(f, "dev", *job.JobId); return err },
		"CloneBackend":  func() error { _, err := clone(f, "staging", "pr-2"); return err },
	}
	for _, after := range []time.Duration{0, 59 * time.Second} {
		f.clock.Advance(after)
		for name, call := range calls {
			checkUnavailable(t, name, call())
		}
		for what, r := range map[string]rawResponse{
			"an unsigned request": do(t, "POST", f.srv.URL+"/backend/d1abc23/details", "", ""),
			"an unknown path":     do(t, "POST", f.srv.URL+"/backend/d1abc23/nothing", "", "amplifybackend"),
		} {
			if r.status != 503 || r.header.Get("X-Amzn-ErrorType") != "ServiceUnavailableException" {
				t.Errorf("%s during the outage: %d %s, want 503 ServiceUnavailableException", what, r.status, r.header.Get("X-Amzn-ErrorType"))
			}
		}
	}
	// The control endpoints stay up and tell what is left of the outage.
	if r := do(t, "GET", f.srv.URL+"/_emulator/faults", "", ""); r.status != 200 || r.body["outageAfter"] != "0s" || r.body["outageFor"] != "1s" {
		t.Errorf("GET /_emulator/faults 59s into the outage: %d %v, want outageAfter 0s, outageFor 1s", r.status, r.body)
	}
	f.clock.Advance(time.Second)
	got, err := getJob(f, "dev", *job.JobId)
	if err != nil || *got.Status != "COMPLETED" {
		t.Fatalf("the job after the outage: %v, %v; want it COMPLETED, having run on", got, err)
	}
	if _, err := clone(f, "staging", "pr-2"); err != nil {
		t.Errorf("CloneBackend after the outage: %v", err)
	}
	s := f.srv.Stats()
	if want := 2 * (len(calls) + 2); s.Count(emulator.OutcomeOutage) != want || s.Operations["GetBackendJob"].Outcomes[emulator.OutcomeOutage] != 2 {
		t.Errorf("stats %+v, want %d outage answers, 2 of GetBackendJob", s.Operations, want)
	}
	if f.srv.Faults().OutageFor != 0 {
		t.Errorf("faults after the outage: %+v, want no outage", f.srv.Faults())
	}
}

// TestOutageDropsConnections checks the dropped connections of an
// outage: a transport error the SDK retries, counted apart from the 503s.
func TestOutageDropsConnections(t *testing.T) {
	tests := map[string]struct {
		rate                 float64
		wantDropped, want503 bool
	}{
		"every connection dropped": {rate: 1, wantDropped: true},
		"half of them":             {rate: 0.5, wantDropped: true, want503: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := start(t, emulator.Config{Seed: 4, Faults: emulator.Faults{OutageFor: time.Hour, OutageDropRate: tc.rate}})
			const calls = 20
			dropped := 0
			for range calls {
				err := getBackend(f)
				var sendErr *smithyhttp.RequestSendError
				if !errors.As(err, &sendErr) {
					checkUnavailable(t, "GetBackend", err)
					continue
				}
				dropped++
				var apiErr smithy.APIError
				if errors.As(err, &apiErr) || !retry.NewStandard().IsErrorRetryable(err) {
					t.Errorf("a dropped connection: %v, want a transport error the SDK retries", err)
				}
			}
			s := f.srv.Stats()
			got := fmt.Sprint(s.Count(emulator.OutcomeDropped), " dropped, ", s.Count(emulator.OutcomeOutage), " 503")
			if s.Count(emulator.OutcomeDropped) != dropped || s.Count(emulator.OutcomeOutage) != calls-dropped ||
				(dropped > 0) != tc.wantDropped || (dropped < calls) != tc.want503 {
				t.Errorf("%d of %d calls saw a transport error; stats: %s", dropped, calls, got)
			}
		})
	}
}

// TestOutageAtRunTime starts, keeps, ends and schedules outages through
// POST /_emulator/faults, as a test script would.
func TestOutageAtRunTime(t *testing.T) {
	f := start(t, emulator.Config{})
	steps := []struct {
		advance            time.Duration
		post               string
		wantOutage         bool
		wantAfter, wantFor string
	}{
		{post: `{"outageFor":"60s"}`, wantOutage: true, wantAfter: "0s", wantFor: "1m0s"},                          // from now
		{advance: 30 * time.Second, post: `{"throttleRate":0}`, wantOutage: true, wantAfter: "0s", wantFor: "30s"}, // kept
		{post: `{"outageFor":"0s"}`, wantAfter: "0s", wantFor: "0s"},                                               // ended early
		{post: `{"outageAfter":"5s","outageFor":"10s"}`, wantAfter: "5s", wantFor: "10s"},                          // scheduled
		{advance: 5 * time.Second, wantOutage: true, wantAfter: "0s", wantFor: "10s"},
		{advance: 10 * time.Second, wantAfter: "0s", wantFor: "0s"},
		{post: `{"outageAfter":"1h","outageFor":"1m"}`, wantAfter: "1h0m0s", wantFor: "1m0s"},
		{post: `{"outageFor":"20s"}`, wantOutage: true, wantAfter: "0s", wantFor: "20s"}, // outageFor alone: now
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		if s.post != "" {
			if r := do(t, "POST", f.srv.URL+"/_emulator/faults", s.post, ""); r.status != 200 {
				t.Fatalf("step %d: POST %s: %d %v", i, s.post, r.status, r.body)
			}
		}
		err := getBackend(f)
		if s.wantOutage {
			checkUnavailable(t, fmt.Sprintf("step %d: GetBackend", i), err)
		} else if err != nil {
			t.Errorf("step %d: GetBackend: %v, want an answer", i, err)
		}
		r := do(t, "GET", f.srv.URL+"/_emulator/faults", "", "")
		if r.body["outageAfter"] != s.wantAfter || r.body["outageFor"] != s.wantFor {
			t.Errorf("step %d: outageAfter %v, outageFor %v; want %s, %s", i, r.body["outageAfter"], r.body["outageFor"], s.wantAfter, s.wantFor)
		}
	}
}
