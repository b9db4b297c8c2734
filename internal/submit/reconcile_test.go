package submit

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/state"
	"github.com/jobwatch/jobwatch/internal/sweep"
)

// lostAnswers makes the emulator start every job and answer 504 after it.
var lostAnswers = emulator.Faults{LostAnswerRate: 1, LostAnswerDelay: 10 * time.Millisecond}

// expectOwnJob checks that requestID got the one job whose answer the
// emulator lost, tracked once, and that nothing starts it again.
func expectOwnJob(t *testing.T, h *harness, requestID string, wantJobs int) {
	t.Helper()
	lost := h.emu.Stats().LostAnswers
	if len(lost) != 1 {
		t.Fatalf("lost answers = %+v, want 1", lost)
	}
	tr := h.tracking()
	if len(tr) != 1 || tr[0].RequestID != requestID || tr[0].JobID != lost[0].JobId {
		t.Fatalf("tracking messages = %+v, want one for %s's job %s", tr, requestID, lost[0].JobId)
	}
	rec := h.record(requestID)
	if rec.State != state.Started || rec.JobID != lost[0].JobId || !rec.Tracked || rec.Unanswered || rec.LockToken != "" {
		t.Errorf("record = %+v, want started with job %s, tracked", rec, lost[0].JobId)
	}
	if n := h.jobsCreated(); n != wantJobs {
		t.Errorf("%d jobs started, want %d", n, wantJobs)
	}
	if l := h.fullLine(rec.BackendEnvironmentName); len(l.Starting) != 0 || len(l.Entries) != 0 {
		t.Errorf("line = %+v, want it empty, nobody starting", l)
	}
	if owner := h.jobOwner(rec.BackendEnvironmentName, lost[0].JobId); owner != requestID {
		t.Errorf("the job's record names request %q, want %s", owner, requestID)
	}
}

// An answer lost after the job started (a 504 from the gateway) is not
// a failure and not a reason to call again: the request finds its job
// among the environment's and adopts it — one job, one tracking message.
func TestLostAnswerFreshRequest(t *testing.T) {
	h := newHarness(t)
	h.setFaults(lostAnswers)
	res := h.submit(cloneRequest("r-lost", "dev", "lost"))
	if res.Status != "RUNNING" || res.JobID == "" {
		t.Fatalf("result = %+v, want the RUNNING job the lost call started", res)
	}
	expectOwnJob(t, h, "r-lost", 1)
	if n := h.emu.Stats().Operations["CloneBackend"].Calls; n != 1 {
		t.Errorf("CloneBackend sent %d times, want once", n)
	}
	if again := h.submit(cloneRequest("r-lost", "dev", "lost")); again != res {
		t.Errorf("repeated request = %+v, want %+v", again, res)
	}
}

// The same on the waiting path: the head of the line whose call's answer
// is lost adopts the job it started, and is not submitted again when that
// job ends.
func TestLostAnswerWaitingPath(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-wait", "line", "wait"))
	h.finish("line", blocker)
	h.clock.Advance(state.ClockSkew + time.Minute) // the blocker is older than the allowance
	h.setFaults(lostAnswers)
	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	expectOwnJob(t, h, "r-wait", 2)
	h.setFaults(emulator.Faults{})
	h.finish("line", h.record("r-wait").JobID)
	h.pump()
	if n := h.jobsCreated(); n != 2 {
		t.Errorf("%d jobs after r-wait's ended, want 2: it is not started again", n)
	}
}

// A crash between the job-starting call and the record of its job leaves
// the request "starting": the retry, once the lease has run out, finds the
// job the call started instead of calling again.
func TestCrashAfterCallReconciled(t *testing.T) {
	h := newHarness(t)
	table := &failingPutTable{Client: h.ddb, puts: map[string]int{}, fail: map[string]int{"req#r-crash": 3}, crashed: true} // create, starting, started
	h.withTable(table)
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-crash", "dev", "crash")); err == nil {
		t.Fatal("Submit succeeded although the job could not be recorded")
	}
	table.revive()
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-crash", "dev", "crash")); !isInProgress(err) {
		t.Fatalf("retry within the lease: %v, want InProgressError", err)
	}
	h.clock.Advance(lockLease + time.Second)
	res := h.submit(cloneRequest("r-crash", "dev", "crash"))
	jobs, _ := h.emu.Jobs().List(testApp, "dev", emulator.JobFilter{}, 0, 25)
	if res.Status != "RUNNING" || len(jobs) != 1 || res.JobID != jobs[0].JobId {
		t.Fatalf("retry after the lease = %+v; want the job the first call started (jobs %+v)", res, jobs)
	}
	if tr := h.tracking(); len(tr) != 1 || tr[0].JobID != res.JobID || tr[0].RequestID != "r-crash" {
		t.Errorf("tracking messages = %+v, want one for job %s", tr, res.JobID)
	}
}

// The window that remains (the README states it): a job of the same
// operation that someone else started on the environment less than
// state.ClockSkew before a call whose answer is lost — the call itself
// starting nothing — is taken for the request's job. Outside the
// allowance it is not (TestWaitingPathServiceErrorsRetry).
func TestUnansweredCallWindow(t *testing.T) {
	h := newHarness(t)
	foreign := h.occupy("dev")
	h.clock.Advance(state.ClockSkew - time.Second)
	h.setCallHook(func(*amplify.Operation, any) error {
		return &types.GatewayTimeoutException{Message: aws.String("timed out")} // nothing reached the service
	})
	res := h.submit(cloneRequest("r-window", "dev", "window"))
	if res.JobID != foreign {
		t.Errorf("result = %+v; the README's window says the foreign job %s within the allowance is adopted", res, foreign)
	}
}

// isInProgress reports whether err is an *InProgressError.
func isInProgress(err error) bool {
	_, ok := asError[*InProgressError](err)
	return ok
}

// fullLine reads the line of env as it is stored.
func (h *harness) fullLine(env string) *state.Line {
	h.t.Helper()
	l, err := h.store.Line(h.ctx, testApp, env)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// jobOwner reads the request id a job's record carries.
func (h *harness) jobOwner(env, jobID string) string {
	h.t.Helper()
	out, err := h.ddb.GetItem(h.ctx, &dynamodb.GetItemInput{TableName: aws.String(h.cfg.StateTable),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "job#" + testApp + "#" + env + "#" + jobID}}})
	if err != nil {
		h.t.Fatal(err)
	}
	if v, ok := out.Item["requestId"].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// The sweep never adopts a job a request is reconciling: a lost answer,
// then an outage before the request could look for its job — the request
// waits with its marker on the line; a sweep meanwhile leaves the job
// alone (it would track it without the request id, for another chain);
// once the API is back the request adopts its job, and later sweeps see
// it held.
func TestSweepLeavesReconcilingRequestAlone(t *testing.T) {
	h := newHarness(t)
	h.setFaults(lostAnswers)
	h.setAfterCall(func(op *amplify.Operation, err error) {
		if op.StartsJob && err != nil { // the answer is lost, then the API goes down
			_ = h.emu.SetFaults(emulator.Faults{OutageFor: time.Hour})
		}
	})
	if res := h.submit(cloneRequest("r-recon", "dev", "recon")); res.Status != StatusWaiting {
		t.Fatalf("result = %+v, want WAITING (its job not found yet)", res)
	}
	h.setAfterCall(nil)
	h.setFaults(emulator.Faults{})
	if l := h.fullLine("dev"); len(l.Starting) != 1 || l.Starting[0].RequestID != "r-recon" {
		t.Fatalf("line = %+v, want r-recon marked as starting", l)
	}
	sw := sweep.New(sweep.Config{AppIDs: []string{testApp}, Environments: []string{"dev"}, JobsQueueURL: h.cfg.JobsQueueURL,
		WaitingQueueURL: h.cfg.WaitingQueueURL, Deadline: time.Hour, MinAge: 2 * time.Minute},
		sweep.Clients{AdminAPI: h.api, SQS: h.sqs, State: h.store}, func() time.Time { return h.clock.Now().Add(10 * time.Minute) }, nil)
	if res, err := sw.Sweep(h.ctx); err != nil || res.Reconciling != 1 || res.Started != 0 {
		t.Fatalf("sweep = %+v, %v; want the job left to r-recon", res, err)
	}
	if tr := h.tracking(); len(tr) != 0 {
		t.Fatalf("the sweep tracked %+v", tr)
	}
	if _, failed := h.pumpLater(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	expectOwnJob(t, h, "r-recon", 1)
	if res, err := sw.Sweep(h.ctx); err != nil || res.Started != 0 || res.Reconciling != 0 {
		t.Errorf("sweep after = %+v, %v; want the job held by r-recon", res, err)
	}
}

// A request whose call went unanswered while another owner's job of
// another operation runs on the environment (the soak's stall: that job
// hangs until jobwatch gives up on it, and the emulator keeps it
// running) waits for its environment, then times out at its wait
// deadline: it found no job of its own, and past the deadline it would
// not call again, so the foreign job is no reason to keep waiting.
func TestUnansweredHeadTimesOutBehindForeignJob(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WaitDeadline = 10 * time.Minute })
	foreign := h.occupy("other")
	h.setCallHook(func(*amplify.Operation, any) error {
		return &types.GatewayTimeoutException{Message: aws.String("timed out")} // nothing reached the service
	})
	in := `{"AppId":"` + testApp + `","BackendEnvironmentName":"other","ResourceName":"main"}`
	res := h.submit(contract.JobRequest{Operation: "GenerateBackendAPIModels", Input: []byte(in), RequestID: "r-late"})
	if res.Status != StatusWaiting {
		t.Fatalf("result = %+v, want WAITING behind job %s", res, foreign)
	}
	h.setCallHook(nil)
	h.clock.Advance(11 * time.Minute)
	if _, failed := h.pumpLater(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	sc := h.statusChanges()
	if len(sc) != 1 || sc[0].RequestID != "r-late" || sc[0].Status != contract.StatusTimedOut || !strings.Contains(sc[0].Error, "wait deadline") {
		t.Fatalf("status changes = %+v, want r-late TIMED_OUT at its wait deadline", sc)
	}
	if rec := h.record("r-late"); rec.State != state.TimedOut {
		t.Errorf("record = %+v, want timedOut", rec)
	}
	if l := h.fullLine("other"); len(l.Entries) != 0 || len(l.Starting) != 0 {
		t.Errorf("line = %+v, want it empty, nobody starting", l)
	}
	if n := h.jobsCreated(); n != 1 {
		t.Errorf("%d jobs, want only the foreign one", n)
	}
}

// A first call lost before it reached the service, a second one minutes
// later that starts the job but whose answer is lost: the job is
// adopted as submitted when the service created it, not at the first
// call, so that poll's NotFound grace (the service may not know a new job
// for a moment) is counted from its creation and the job is not LOST.
func TestAdoptedJobSubmittedAtItsCreation(t *testing.T) {
	h := newHarness(t)
	h.setCallHook(func(*amplify.Operation, any) error {
		return &types.GatewayTimeoutException{Message: aws.String("timed out")} // nothing reached the service
	})
	if res := h.submit(cloneRequest("r-twice", "dev", "twice")); res.Status != StatusWaiting {
		t.Fatalf("result = %+v, want WAITING", res)
	}
	h.setCallHook(nil)
	h.clock.Advance(5 * time.Minute)
	h.setFaults(lostAnswers)
	if _, failed := h.pumpLater(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	expectOwnJob(t, h, "r-twice", 1) // reads the one tracking message
	rec := h.record("r-twice")
	if want := testStart.Add(5 * time.Minute); rec.SubmittedAt == nil || rec.SubmittedAt.Before(want) {
		t.Errorf("job submitted at %v, want at its creation (%v or later), not at the first call", rec.SubmittedAt, want)
	}
}
