package submit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/state"
)

// A free environment: the job starts, poll gets a tracking message and
// the request record remembers the job.
func TestSubmitStartsJob(t *testing.T) {
	h := newHarness(t)
	res := h.submit(cloneRequest("r-start", "dev", "pr-1"))

	if res.Status != "RUNNING" || res.JobID == "" || res.AppID != testApp || res.BackendEnvironmentName != "dev" ||
		res.Operation != "CloneBackend" || res.RequestID != "r-start" {
		t.Fatalf("result = %+v, want a RUNNING CloneBackend job on %s/dev for r-start", res, testApp)
	}
	got := h.tracking()
	if len(got) != 1 {
		t.Fatalf("tracking messages = %d, want 1", len(got))
	}
	want := contract.TrackingMessage{Version: 1, AppID: testApp, BackendEnvironmentName: "dev", JobID: res.JobID,
		Operation: "CloneBackend", RequestID: "r-start", SubmittedAt: testStart, Deadline: testStart.Add(6 * time.Hour),
		LastStatus: "RUNNING"}
	if g := got[0]; g.Version != want.Version || g.AppID != want.AppID || g.BackendEnvironmentName != want.BackendEnvironmentName ||
		g.JobID != want.JobID || g.Operation != want.Operation || g.RequestID != want.RequestID ||
		!g.SubmittedAt.Equal(want.SubmittedAt) || !g.Deadline.Equal(want.Deadline) || g.Polls != 0 || g.LastStatus != want.LastStatus {
		t.Errorf("tracking message = %+v\nwant %+v", g, want)
	}
	rec := h.record("r-start")
	if rec == nil || rec.State != state.Started || rec.JobID != res.JobID || !rec.Tracked || rec.LockToken != "" {
		t.Errorf("record = %+v, want submitted, tracked, unlocked, job %s", rec, res.JobID)
	}
	if rec != nil && rec.ExpiresAt != testStart.Add(6*time.Hour+recordTTL).Unix() {
		t.Errorf("record expiresAt = %d, want now + wait deadline + %v", rec.ExpiresAt, recordTTL)
	}
	if n := h.count(h.cfg.WaitingQueueURL); n != 0 {
		t.Errorf("waiting queue holds %d wake-ups, want none", n)
	}
}

// The delays of the messages are the configured ones.
func TestDelays(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.InitialPollDelay = 10 * time.Second
		c.WaitRetryDelay = 30 * time.Second
	})
	h.submit(cloneRequest("r-first", "dev", "pr-2"))  // starts a job
	h.submit(cloneRequest("r-second", "dev", "pr-3")) // waits: a wake-up
	tr := h.sent.to(h.cfg.JobsQueueURL)
	wk := h.sent.to(h.cfg.WaitingQueueURL)
	if len(tr) != 1 || tr[0].DelaySeconds != 10 {
		t.Errorf("tracking messages = %d with delay %v, want 1 with DelaySeconds 10", len(tr), delays(tr))
	}
	if len(wk) != 1 || wk[0].DelaySeconds != 30 {
		t.Errorf("wake-ups = %d with delay %v, want 1 with DelaySeconds 30", len(wk), delays(wk))
	}
	// moto holds them back: nothing visible yet.
	if n := len(h.receive(h.cfg.JobsQueueURL, true)); n != 0 {
		t.Errorf("%d tracking messages visible at once, want them delayed", n)
	}
}

// Validation refuses what jobwatch cannot or will not run, naming the
// problem; nothing is called, sent or recorded.
func TestSubmitRefusesBadRequests(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AllowedAppIDs = []string{testApp, "d2second"} })
	tests := map[string]struct {
		op    string
		input string
		want  string // in the error
		kind  string // "invalid" or "refused"
	}{
		"unknown operation":       {"CloneBackends", `{"AppId":"d1abc23"}`, `unknown operation "CloneBackends"`, "invalid"},
		"Get operation":           {"GetBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev"}`, "GetBackend starts no backend job", "refused"},
		"List operation":          {"list_backend_jobs", `{"AppId":"d1abc23","BackendEnvironmentName":"dev"}`, "ListBackendJobs starts no backend job", "refused"},
		"token operation":         {"create-token", `{"AppId":"d1abc23"}`, "CreateToken starts no backend job", "refused"},
		"UpdateBackendJob":        {"UpdateBackendJob", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","JobId":"j"}`, "UpdateBackendJob starts no backend job", "refused"},
		"config operation":        {"UpdateBackendConfig", `{"AppId":"d1abc23"}`, "UpdateBackendConfig starts no backend job", "refused"},
		"RemoveAllBackends":       {"RemoveAllBackends", `{"AppId":"d1abc23"}`, "RemoveAllBackends starts an app-wide job", "refused"},
		"CreateBackendConfig":     {"CreateBackendConfig", `{"AppId":"d1abc23"}`, "CreateBackendConfig starts an app-wide job", "refused"},
		"missing required member": {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev"}`, "TargetEnvironmentName", "invalid"},
		"unknown member":          {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"x","Target":"y"}`, "Target", "invalid"},
		"wrong member type":       {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":42}`, "TargetEnvironmentName", "invalid"},
		"empty environment":       {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"","TargetEnvironmentName":"x"}`, "BackendEnvironmentName", "invalid"},
		"app not in allowed list": {"CloneBackend", `{"AppId":"d9other","BackendEnvironmentName":"dev","TargetEnvironmentName":"prx"}`, `app id "d9other" is not in ALLOWED_APP_IDS`, "refused"},
		// Amplify's rule for environment names: 2 to 10 lowercase letters.
		"environment with a dash":      {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"pr-1","TargetEnvironmentName":"prx"}`, "member BackendEnvironmentName must be an Amplify environment name", "invalid"},
		"environment with a dot":       {"GenerateBackendAPIModels", `{"AppId":"d1abc23","BackendEnvironmentName":"dev.x","ResourceName":"main"}`, "member BackendEnvironmentName must be an Amplify environment name", "invalid"},
		"environment in upper case":    {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"Dev","TargetEnvironmentName":"prx"}`, "member BackendEnvironmentName must be an Amplify environment name", "invalid"},
		"target environment too long":  {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"abcdefghijk"}`, "member TargetEnvironmentName must be an Amplify environment name", "invalid"},
		"target environment too short": {"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"p"}`, "member TargetEnvironmentName must be an Amplify environment name", "invalid"},
		"nested member missing":        {"CreateBackendAuth", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","ResourceName":"r","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO","UserPoolConfigs":{"UserPoolName":"p","RequiredSignUpAttributes":["EMAIL"]}}}`, "SignInMethod", "invalid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := h.s.Submit(h.ctx, contract.JobRequest{Operation: tc.op, Input: json.RawMessage(tc.input), RequestID: "bad-" + strings.ReplaceAll(name, " ", "-")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			_, invalid := asError[*InvalidRequestError](err)
			_, refused := asError[*RefusedError](err)
			if (tc.kind == "invalid") != invalid || (tc.kind == "refused") != refused {
				t.Errorf("error %T, want the %s kind", err, tc.kind)
			}
			id := "bad-" + strings.ReplaceAll(name, " ", "-")
			if tc.kind == "refused" && strings.Contains(tc.want, "ALLOWED_APP_IDS") {
				expectRefused(t, h, id, tc.want) // well formed, so it is recorded for whoever follows it
			} else if rec := h.record(id); rec != nil {
				t.Errorf("a malformed request left a record: %+v", rec)
			}
		})
	}
	if n := h.jobsCreated(); n != 0 {
		t.Errorf("%d jobs started, want none", n)
	}
	if n := len(h.sent.sent); n != 0 {
		t.Errorf("%d messages sent, want none", n)
	}
}

// A repeated request id gets the recorded answer: one job, one tracking
// message; while it waits, it stays in the line once.
func TestDuplicateRequestID(t *testing.T) {
	h := newHarness(t)
	first := h.submit(cloneRequest("r-dup", "dev", "pr-10"))
	again := h.submit(cloneRequest("r-dup", "dev", "pr-10"))
	if again != first {
		t.Errorf("repeated request answered %+v, want the first answer %+v", again, first)
	}
	if n := h.jobsCreated(); n != 1 {
		t.Errorf("%d jobs started, want 1", n)
	}
	if n := len(h.tracking()); n != 1 {
		t.Errorf("%d tracking messages, want 1", n)
	}

	// Waiting: the env is busy with r-dup's job.
	w1 := h.submit(cloneRequest("r-dup-wait", "dev", "pr-11"))
	w2 := h.submit(cloneRequest("r-dup-wait", "dev", "pr-11"))
	if w1.Status != StatusWaiting || w2 != w1 {
		t.Errorf("waiting request answered %+v then %+v, want WAITING twice", w1, w2)
	}
	if got := h.line("dev"); len(got) != 1 || got[0] != "r-dup-wait" {
		t.Errorf("line = %v, want [r-dup-wait] (once)", got)
	}

	// The same id for another request is refused, naming the id.
	_, err := h.s.Submit(h.ctx, cloneRequest("r-dup", "dev", "pr-99"))
	if _, ok := asError[*RefusedError](err); !ok || !strings.Contains(err.Error(), `requestId "r-dup" was already used`) {
		t.Errorf("reused id error = %v, want a RefusedError naming the id", err)
	}
}

// Concurrent deliveries of one request start one job.
func TestDuplicateRequestConcurrent(t *testing.T) {
	h := newHarness(t)
	const n = 6
	results := make(chan error, n)
	for range n {
		go func() {
			_, err := h.s.Submit(h.ctx, cloneRequest("r-race", "dev", "pr-12"))
			results <- err
		}()
	}
	for range n {
		if err := <-results; err != nil {
			if _, ok := asError[*InProgressError](err); !ok {
				t.Errorf("concurrent duplicate: %v, want success or InProgressError", err)
			}
		}
	}
	if got := h.jobsCreated(); got != 1 {
		t.Errorf("%d jobs started, want 1", got)
	}
	if got := len(h.tracking()); got != 1 {
		t.Errorf("%d tracking messages, want 1", got)
	}
	if got := h.line("dev"); len(got) != 0 {
		t.Errorf("line = %v, want empty", got)
	}
}

// A service error other than busy is the caller's error, and the request
// can be tried again.
func TestSubmitServiceError(t *testing.T) {
	h := newHarness(t)
	in := `{"AppId":"d1abc23","BackendEnvironmentName":"nosuchenv","TargetEnvironmentName":"prx"}`
	_, err := h.s.Submit(h.ctx, contract.JobRequest{Operation: "CloneBackend", Input: json.RawMessage(in), RequestID: "r-404"})
	ce, ok := asError[*CallError](err)
	if !ok || ce.Retryable() || !strings.Contains(err.Error(), "NotFoundException") {
		t.Fatalf("error = %v, want a non-retryable CallError with NotFoundException", err)
	}
	expectRefused(t, h, "r-404", "NotFoundException: There is no backend environment nosuchenv")
	if _, err := h.s.Submit(h.ctx, contract.JobRequest{Operation: "CloneBackend", Input: json.RawMessage(in), RequestID: "r-404"}); err == nil {
		t.Fatal("retry succeeded")
	}
	if n := h.emu.Stats().Operations["CloneBackend"].Calls; n != 2 {
		t.Errorf("CloneBackend called %d times, want twice: a refused request's retry starts afresh", n)
	}
	// Throttled beyond the SDK's retries: the request is recorded and waits
	// in line, "Admin API unavailable", for a wake-up to try it again.
	h.setFaults(emulatorThrottle(1))
	res, err := h.s.Submit(h.ctx, cloneRequest("r-429", "dev", "pr-13"))
	if err != nil || res.Status != StatusWaiting {
		t.Fatalf("throttled: %+v, %v; want WAITING", res, err)
	}
	h.setFaults(emulatorThrottle(0))
	if res := h.submit(cloneRequest("r-429", "dev", "pr-13")); res.Status != StatusWaiting {
		t.Errorf("repeated while it waits: %+v, want WAITING", res)
	}
	if _, failed := h.pumpLater(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if res := h.submit(cloneRequest("r-429", "dev", "pr-13")); res.Status != "RUNNING" {
		t.Errorf("retry after throttling: %+v, want RUNNING", res)
	}
}

// A tracking message that could not be sent is sent by the retry, without
// a second job.
func TestTrackingSendFailureRetried(t *testing.T) {
	h := newHarness(t)
	h.sent.setFail(func(in *sqs.SendMessageInput) error {
		if aws.ToString(in.QueueUrl) == h.cfg.JobsQueueURL {
			return errSQSDown
		}
		return nil
	})
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-track", "dev", "pr-14")); err == nil {
		t.Fatal("Submit succeeded although the tracking message could not be sent")
	}
	h.sent.setFail(nil)
	res := h.submit(cloneRequest("r-track", "dev", "pr-14"))
	if res.Status != "RUNNING" {
		t.Errorf("retry: %+v, want RUNNING", res)
	}
	if got := h.tracking(); len(got) != 1 || got[0].JobID != res.JobID {
		t.Errorf("tracking messages = %+v, want one for job %s", got, res.JobID)
	}
	if n := h.jobsCreated(); n != 1 {
		t.Errorf("%d jobs started, want 1", n)
	}
}

// expectRefused checks that requestID is recorded refused, FAILED with
// reason, for state.RefusalRetention, held by nobody.
func expectRefused(t *testing.T, h *harness, requestID, reason string) {
	t.Helper()
	rec := h.record(requestID)
	if rec == nil {
		t.Fatalf("no record of refused request %s", requestID)
	}
	if rec.State != state.Refused || rec.Status != contract.StatusFailed || !strings.Contains(rec.Error, reason) || rec.LockToken != "" {
		t.Errorf("record = %+v, want refused, FAILED, with %q", rec, reason)
	}
	if want := h.clock.Now().Add(state.RefusalRetention).Unix(); rec.ExpiresAt != want {
		t.Errorf("record expires at %d, want %d (RefusalRetention)", rec.ExpiresAt, want)
	}
	var c contract.StatusChange
	if err := json.Unmarshal([]byte(rec.Change), &c); err != nil || c.Status != contract.StatusFailed || c.RequestID != requestID {
		t.Errorf("change = %s (%v), want a FAILED status change of %s", rec.Change, err, requestID)
	}
}
