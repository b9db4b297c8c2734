package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

func getBackend(f *fixture) error {
	_, err := f.client.GetBackend(context.Background(), &amplify.GetBackendInput{AppId: aws.String(demoApp)})
	return err
}

// httpStats reads the counters as a demo would, over HTTP.
func httpStats(t *testing.T, url string) emulator.Stats {
	t.Helper()
	resp, err := http.Get(url + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_emulator/stats: %s", resp.Status)
	}
	var s emulator.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRequestFaults(t *testing.T) {
	tests := map[string]struct {
		faults      emulator.Faults
		wantOutcome string
		check       func(t *testing.T, err error)
	}{
		"throttle-rate 1": {faults: emulator.Faults{ThrottleRate: 1}, wantOutcome: "429 TooManyRequestsException",
			check: func(t *testing.T, err error) {
				if e := asError[*types.TooManyRequestsException](t, err); aws.ToString(e.LimitType) == "" {
					t.Error("TooManyRequestsException without limitType")
				}
			}},
		"error-rate 1": {faults: emulator.Faults{ErrorRate: 1}, wantOutcome: "504 GatewayTimeoutException",
			check: func(t *testing.T, err error) {
				asError[*types.GatewayTimeoutException](t, err)
				wantHTTPStatus(t, err, 504)
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := start(t, emulator.Config{Faults: tc.faults})
			const calls = 5
			for range calls {
				tc.check(t, getBackend(f))
			}
			// The control endpoints are exempt, and count nothing.
			for _, s := range []emulator.Stats{f.srv.Stats(), httpStats(t, f.srv.URL)} {
				got := s.Operations["GetBackend"]
				if got.Calls != calls || got.Outcomes[tc.wantOutcome] != calls || s.Requests != calls {
					t.Errorf("stats %+v, want %d GetBackend calls, all %s", s, calls, tc.wantOutcome)
				}
			}
		})
	}
}

func TestLatency(t *testing.T) {
	const latency = 150 * time.Millisecond
	f := start(t, emulator.Config{Faults: emulator.Faults{Latency: latency}})
	began := time.Now()
	if err := getBackend(f); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < latency {
		t.Errorf("GetBackend took %v, want at least the latency %v", took, latency)
	}
	began = time.Now()
	httpStats(t, f.srv.URL)
	if took := time.Since(began); took >= latency {
		t.Errorf("GET /_emulator/stats took %v: the latency applies to the Admin API only", took)
	}
}

func TestNotFoundWindow(t *testing.T) {
	f := start(t, emulator.Config{Faults: emulator.Faults{NotFoundWindow: 30 * time.Second}})
	job, err := clone(f, "dev", "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after     time.Duration
		wantFound bool
	}{{0, false}, {29 * time.Second, false}, {time.Second, true}} {
		f.clock.Advance(step.after)
		_, err := getJob(f, "dev", *job.JobId)
		if step.wantFound && err != nil {
			t.Errorf("%v after the start: %v, want the job", f.clock.Now().Sub(epoch), err)
		}
		if !step.wantFound {
			asError[*types.NotFoundException](t, err)
		}
	}
}

func TestJobOutcomeRates(t *testing.T) {
	tests := map[string]struct {
		faults     emulator.Faults
		wantStatus string
		wantError  bool
	}{
		"fail-rate 1":  {faults: emulator.Faults{FailRate: 1}, wantStatus: "FAILED", wantError: true},
		"stuck-rate 1": {faults: emulator.Faults{StuckRate: 1}, wantStatus: "RUNNING"},
		"no faults":    {wantStatus: "COMPLETED"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := start(t, emulator.Config{Faults: tc.faults})
			started, err := clone(f, "dev", "pr-1")
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(1000 * time.Hour)
			job, err := getJob(f, "dev", *started.JobId)
			if err != nil {
				t.Fatal(err)
			}
			if *job.Status != tc.wantStatus || (aws.ToString(job.Error) != "") != tc.wantError {
				t.Errorf("after 1000h: %s (error %q), want %s (error: %v)", *job.Status, aws.ToString(job.Error), tc.wantStatus, tc.wantError)
			}
			_, err = clone(f, "dev", "pr-2")
			if busy := err != nil; busy != (tc.wantStatus == "RUNNING") {
				t.Errorf("next job on dev: %v; want it refused only while the first runs", err)
			}
		})
	}
}

func TestJobDurationPerOperation(t *testing.T) {
	f := start(t, emulator.Config{JobDurations: emulator.FixedDurations(3*time.Second, map[string]time.Duration{"CloneBackend": 10 * time.Second})})
	cloned, imported := cloneAndImport(t, f)
	steps := []struct {
		after                   time.Duration
		wantClone, wantImported string
	}{
		{3 * time.Second, "RUNNING", "COMPLETED"},
		{7 * time.Second, "COMPLETED", "COMPLETED"},
	}
	for _, s := range steps {
		f.clock.Advance(s.after)
		c, err1 := getJob(f, "dev", cloned)
		i, err2 := getJob(f, "staging", imported)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if *c.Status != s.wantClone || *i.Status != s.wantImported {
			t.Errorf("at %v: CloneBackend %s, ImportBackendStorage %s; want %s, %s", f.clock.Now().Sub(epoch), *c.Status, *i.Status, s.wantClone, s.wantImported)
		}
	}
}

func setFaults(t *testing.T, f *fixture, faults emulator.Faults) {
	t.Helper()
	if err := f.srv.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
}

// TestSeedReplays runs the same requests against emulators with the same
// and another seed: job ids, outcomes and throttled requests must repeat.
func TestSeedReplays(t *testing.T) {
	run := func(seed uint64) string {
		f := start(t, emulator.Config{Seed: seed, Faults: emulator.Faults{FailRate: 0.5, ThrottleRate: 0.3}})
		var trace strings.Builder
		for i := range 12 {
			out, err := clone(f, "dev", fmt.Sprintf("pr-%d", i))
			if err != nil {
				fmt.Fprintf(&trace, "%d: %v\n", i, asError[smithy.APIError](t, err).ErrorCode())
				continue
			}
			f.clock.Advance(time.Hour)
			setFaults(t, f, emulator.Faults{FailRate: 0.5}) // read without throttling
			job, err := getJob(f, "dev", *out.JobId)
			if err != nil {
				t.Fatal(err)
			}
			setFaults(t, f, emulator.Faults{FailRate: 0.5, ThrottleRate: 0.3})
			fmt.Fprintf(&trace, "%d: %s %s\n", i, *job.JobId, *job.Status)
		}
		return trace.String()
	}
	first := run(7)
	if !strings.Contains(first, "TooManyRequestsException") || !strings.Contains(first, "FAILED") || !strings.Contains(first, "COMPLETED") {
		t.Fatalf("trace lacks throttling, failures or completions; the test proves nothing:\n%s", first)
	}
	if again := run(7); again != first {
		t.Errorf("seed 7 did not replay:\n%s\nthen\n%s", first, again)
	}
	if other := run(8); other == first {
		t.Errorf("seeds 7 and 8 gave the same run:\n%s", first)
	}
}

func TestStateFile(t *testing.T) {
	f := start(t, emulator.Config{}) // loads testdata/state.json
	out, err := f.client.GetBackend(context.Background(), &amplify.GetBackendInput{AppId: aws.String("d2xyz89")})
	if err != nil || aws.ToString(out.AppName) != "shop" || jsonText(t, out.BackendEnvironmentList) != `["main"]` {
		t.Errorf("GetBackend of the second app of the state file: %v, %v; want shop with main", out, err)
	}

	// Preloaded APIs can be updated at once.
	s, err := emulator.ParseState([]byte(`{"apps":[{"appId":"d9api","appName":"x","environments":["dev"],"apis":{"dev":["main"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	g := start(t, emulator.Config{State: s})
	if _, err := g.client.UpdateBackendAPI(context.Background(), &amplify.UpdateBackendAPIInput{AppId: aws.String("d9api"),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("main")}); err != nil {
		t.Errorf("UpdateBackendAPI on a preloaded API: %v", err)
	}

	bad := map[string]struct{ doc, want string }{
		"unknown member":                {`{"apps":[{"appId":"a","envs":["dev"]}]}`, `unknown field "envs"`},
		"empty app id":                  {`{"apps":[{"appName":"x"}]}`, "apps[0]: appId is empty"},
		"repeated app id":               {`{"apps":[{"appId":"a"},{"appId":"a"}]}`, "apps[1]: appId a appears twice"},
		"empty environment":             {`{"apps":[{"appId":"a","environments":[""]}]}`, "apps[0].environments[0] is empty"},
		"repeated env":                  {`{"apps":[{"appId":"a","environments":["dev","dev"]}]}`, "environment dev appears twice"},
		"not JSON":                      {`apps: []`, "decode state"},
		"API on an unknown environment": {`{"apps":[{"appId":"a","environments":["dev"],"apis":{"prod":["api"]}}]}`, "apis: environment prod is not in environments"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := emulator.ParseState([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseState: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := emulator.LoadState("testdata/missing.json"); err == nil || !strings.Contains(err.Error(), "read state file") {
		t.Errorf("LoadState of a missing file: %v", err)
	}
}

// TestFaultsAtRunTime changes faults over HTTP and in process while the
// emulator runs.
func TestFaultsAtRunTime(t *testing.T) {
	f := start(t, emulator.Config{})
	post := func(body string) rawResponse { return do(t, "POST", f.srv.URL+"/_emulator/faults", body, "") }

	if r := post(`{"throttleRate": 1, "latency": "1ms"}`); r.status != 200 || r.body["throttleRate"] != 1.0 || r.body["latency"] != "1ms" {
		t.Fatalf("POST faults: %d %v", r.status, r.body)
	}
	asError[*types.TooManyRequestsException](t, getBackend(f))

	// A POST changes only what it names.
	if r := post(`{"pendingErrorCode": "ValidationException"}`); r.status != 200 || r.body["throttleRate"] != 1.0 {
		t.Fatalf("POST faults: %d %v, want throttleRate kept", r.status, r.body)
	}
	for body, want := range map[string]string{
		`{"failRate": 2}`:                     "failRate must be from 0 to 1",
		`{"failRate": 0.7, "stuckRate": 0.7}`: "must not exceed 1",
		`{"latency": "soon"}`:                 "latency",
		`{"pendingErrorCode": "Oops"}`:        "pendingErrorCode",
		`{"typo": 1}`:                         "typo",
		`{"lostAnswerRate": 1.5}`:             "lostAnswerRate must be from 0 to 1",
		`{"lostAnswerDelay": 5}`:              "lostAnswerDelay",
		`{"outageDropRate": -1}`:              "outageDropRate must be from 0 to 1",
		`{"outageFor": "-1s"}`:                "outageFor must not be negative",
		`{"outageAfter": "soon"}`:             "outageAfter",
	} {
		if r := post(body); r.status != 400 || !strings.Contains(fmt.Sprint(r.body["message"]), want) {
			t.Errorf("POST %s: %d %v, want 400 naming %s", body, r.status, r.body, want)
		}
	}
	if got := f.srv.Faults(); got.ThrottleRate != 1 || got.PendingErrorCode != "ValidationException" || got.FailRate != 0 {
		t.Errorf("faults after bad POSTs: %+v, want them unchanged", got)
	}

	if err := f.srv.SetFaults(emulator.Faults{ErrorRate: -1}); err == nil {
		t.Error("SetFaults accepted errorRate -1")
	}
	setFaults(t, f, emulator.Faults{})
	if err := getBackend(f); err != nil {
		t.Errorf("GetBackend with faults cleared: %v", err)
	}
	r := do(t, "GET", f.srv.URL+"/_emulator/faults", "", "")
	if r.status != 200 || r.body["throttleRate"] != 0.0 || r.body["pendingErrorCode"] != "BadRequestException" {
		t.Errorf("GET faults: %d %v", r.status, r.body)
	}
	if r := do(t, "GET", f.srv.URL+"/_emulator/nothing", "", ""); r.status != 404 {
		t.Errorf("GET /_emulator/nothing: %d, want 404", r.status)
	}
}

// TestFailOperations checks jobs of a listed operation always fail with an
// error, other operations' jobs do not, and a bad name is refused.
func TestFailOperations(t *testing.T) {
	f := start(t, emulator.Config{Faults: emulator.Faults{FailOperations: []string{"clone-backend"}}})
	cloned, imported := cloneAndImport(t, f)
	f.clock.Advance(time.Hour)
	if job, _ := getJob(f, "dev", cloned); aws.ToString(job.Status) != "FAILED" || aws.ToString(job.Error) == "" {
		t.Errorf("CloneBackend job = %v, want FAILED with an error", job)
	}
	if job, _ := getJob(f, "staging", imported); aws.ToString(job.Status) != "COMPLETED" {
		t.Errorf("ImportBackendStorage job = %v, want COMPLETED", job)
	}
	if err := f.srv.SetFaults(emulator.Faults{FailOperations: []string{"GetBackendJob"}}); err == nil {
		t.Error("an operation that starts no job was accepted")
	}
}
