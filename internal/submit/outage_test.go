package submit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// A job request that arrives while the Admin API is down costs time, not
// the request: it is recorded and waits in line ("Admin API
// unavailable"); the line's wake-ups try it again with a growing backoff
// while the outage lasts, and it starts once the API is back — one job,
// nothing in the submit-failures queue.
func TestOutageRequestWaits(t *testing.T) {
	for name, drop := range map[string]float64{"503": 0, "dropped connections": 1} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.setFaults(emulator.Faults{OutageFor: time.Hour, OutageDropRate: drop})
			payload := fmt.Sprintf(`{"id":"ev-outage","detail-type":"Amplify Backend Job Requested","source":"ci","detail":%s}`,
				jsonOf(cloneRequest("r-outage", "dev", "outage")))
			out, err := h.s.HandleLambda(h.ctx, []byte(payload))
			if res, ok := out.(Result); err != nil || !ok || res.Status != StatusWaiting {
				t.Fatalf("during the outage: %#v, %v; want WAITING, not an error for Lambda to retry", out, err)
			}
			if got := h.line("dev"); len(got) != 1 || got[0] != "r-outage" {
				t.Fatalf("line = %v, want [r-outage]", got)
			}
			for attempt := 1; attempt <= 2; attempt++ { // still down: put off, again and again
				if _, failed := h.pumpLater(); len(failed) != 0 {
					t.Fatalf("wake-up %d failed %v; want it put off", attempt, failed)
				}
				checkPutOff(t, h, attempt)
			}
			h.setFaults(emulator.Faults{}) // the API is back
			_, failed := h.pumpLater()
			tr := h.tracking()
			if len(failed) != 0 || len(tr) != 1 || tr[0].RequestID != "r-outage" || h.jobsCreated() != 1 {
				t.Fatalf("after the outage: failed %v, tracking %v, %d jobs; want r-outage's one job", failed, requestIDs(tr), h.jobsCreated())
			}
			if n := h.count(h.cfg.SubmitFailuresQueueURL); n != 0 {
				t.Errorf("%d records in the submit-failures queue, want none", n)
			}
		})
	}
}

// A waiting line always has a wake-up in flight, noted on the line: a
// wake-up that finds the environment busy replaces itself with the next,
// one put off replaces itself with its copy; the line's wake-up is never
// cleared while requests wait.
func TestLineKeepsItsWakeup(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-keep", "line", "keep"))
	expectOneWakeup := func(when string) {
		t.Helper()
		l := h.fullLine("line")
		msgs := h.receiveWait(h.cfg.WaitingQueueURL)
		for _, m := range msgs { // leave them for the next pump
			h.visibleAgain(m)
		}
		if len(msgs) != 1 {
			t.Fatalf("%s: %d wake-ups in flight, want 1", when, len(msgs))
		}
		w, _ := contract.DecodeWakeup([]byte(msgs[0].body))
		if l.WakeID == "" || l.WakeID != w.Chain || !l.WakePending(h.clock.Now()) {
			t.Errorf("%s: the line notes wake-up %q (due %d), want the one in flight, %q", when, l.WakeID, l.WakeAt, w.Chain)
		}
	}
	expectOneWakeup("joined")
	h.pump() // busy
	expectOneWakeup("busy")
	h.finish("line", blocker)
	h.setFaults(emulatorThrottle(1))
	h.pump() // put off
	expectOneWakeup("put off")
	h.setFaults(emulatorThrottle(0))
	h.pumpLater()
	if tr := h.tracking(); len(tr) != 1 {
		t.Fatalf("%d tracking messages, want 1", len(tr))
	}
	if l := h.fullLine("line"); l.WakeID != "" || len(l.Entries) != 0 {
		t.Errorf("empty line = %+v, want its wake-ups ended", l)
	}
}

// A wake-up handled with less than the safety margin left in the
// invocation is not tried: it is handed back as a fresh copy (no receive
// spent), and the next invocation does the work.
func TestWakeHandsBackNearDeadline(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-late", "line", "late"))
	h.finish("line", blocker)
	msgs := h.receive(h.cfg.WaitingQueueURL, true)
	extra := queue.Message{ID: "extra", Body: fmt.Sprintf(`{"v":1,"appId":%q,"backendEnvironmentName":"line"}`, testApp), Attempt: 3}
	batch := []queue.Message{{ID: msgs[0].id, Body: msgs[0].body}, extra}
	ctx, cancel := context.WithTimeout(h.ctx, wakeMargin/2)
	defer cancel()
	if failed := h.s.Wake(ctx, batch); len(failed) != 0 {
		t.Fatalf("failed %v, want both handed back", failed)
	}
	if n := h.jobsCreated(); n != 1 {
		t.Errorf("%d jobs, want only the blocker: nothing tried", n)
	}
	back := h.receive(h.cfg.WaitingQueueURL, true)
	if len(back) != 2 || back[0].body != batch[0].Body || back[1].body != extra.Body || back[1].attempt != 3 {
		t.Fatalf("handed back %+v, want both wake-ups as they came", back)
	}
	if failed := h.s.Wake(h.ctx, batch); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if tr := h.tracking(); len(tr) != 1 || tr[0].RequestID != "r-late" {
		t.Errorf("tracking = %v, want r-late", requestIDs(tr))
	}
}

// track claims the job's record before it sends the tracking message and
// marks it sent after: a crash after the send sends nothing again, and a
// failed send leaves the job held for the request, whose retry sends it.
func TestTrackClaimsThenSends(t *testing.T) {
	h := newHarness(t)
	table := &failingPutTable{Client: h.ddb, puts: map[string]int{}, fail: map[string]int{"req#r-track": 4}, crashed: true} // create, starting, started, tracked
	h.withTable(table)
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-track", "dev", "track")); err == nil {
		t.Fatal("Submit succeeded although the request could not be noted tracked")
	}
	table.revive()
	h.clock.Advance(lockLease + time.Second)
	res := h.submit(cloneRequest("r-track", "dev", "track"))
	if tr := h.tracking(); len(tr) != 1 || tr[0].JobID != res.JobID {
		t.Errorf("tracking messages = %+v, want one: the retry must not send again", tr)
	}
	if owner := h.jobOwner("dev", res.JobID); owner != "r-track" {
		t.Errorf("job record names %q, want r-track", owner)
	}

	// The send fails: the job is held for the request already, and the
	// retry sends.
	h.sent.setFail(func(in *sqs.SendMessageInput) error {
		if aws.ToString(in.QueueUrl) == h.cfg.JobsQueueURL {
			return errSQSDown
		}
		return nil
	})
	h.s = h.submitter(h.call, h.sent, h.store)
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-send", "staging", "send")); err == nil {
		t.Fatal("Submit succeeded without its tracking message")
	}
	rec := h.record("r-send")
	if owner := h.jobOwner("staging", rec.JobID); owner != "r-send" {
		t.Errorf("before the send, the job's record names %q, want r-send", owner)
	}
	h.sent.setFail(nil)
	if res := h.submit(cloneRequest("r-send", "staging", "send")); res.JobID != rec.JobID {
		t.Errorf("retry = %+v, want job %s", res, rec.JobID)
	}
	if tr := h.tracking(); len(tr) != 1 || tr[0].RequestID != "r-send" {
		t.Errorf("tracking = %v, want r-send once", requestIDs(tr))
	}
}

// A request record outlives the longest redrive a dead-letter queue allows
// (14 days): a redriven request finds it and is answered from it.
func TestRequestRecordRetention(t *testing.T) {
	h := newHarness(t)
	h.submit(cloneRequest("r-keep", "dev", "keep"))
	if rec := h.record("r-keep"); rec.ExpiresAt < testStart.Add(15*24*time.Hour).Unix() {
		t.Errorf("record expires %v after its last change, want at least 15 days",
			time.Unix(rec.ExpiresAt, 0).Sub(testStart))
	}
}

// submit writes its metrics in CloudWatch's embedded metric format at the
// end of each invocation: a job started (by operation), the line's length
// as it changes, and work put off (by reason).
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	invoke := func(jr contract.JobRequest) {
		t.Helper()
		if _, err := h.s.HandleLambda(h.ctx, jsonOf(jr)); err != nil {
			t.Fatal(err)
		}
	}
	invoke(cloneRequest("r-m1", "dev", "one"))
	invoke(cloneRequest("r-m2", "dev", "two")) // waits: one in line
	h.setFaults(emulatorThrottle(1))
	invoke(cloneRequest("r-m3", "staging", "three")) // put off
	recs, err := metrics.ParseEMF([]byte(h.emf.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range recs {
		if r.Namespace != "jobwatch-test" {
			t.Errorf("namespace %q", r.Namespace)
		}
		for name, vs := range r.Values {
			key := name + fmt.Sprint(r.Dims)
			for _, v := range vs {
				got[key] += v
			}
		}
	}
	for key, want := range map[string]float64{
		"JobsSubmitted" + fmt.Sprint(metrics.Dims{"Operation": "CloneBackend"}):                1,
		"JobsWaiting" + fmt.Sprint(metrics.Dims{}):                                             2,
		"Backoffs" + fmt.Sprint(metrics.Dims{"Function": "submit", "Reason": reasonThrottled}): 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
	if !strings.Contains(h.emf.String(), `"_aws"`) {
		t.Error("no EMF written")
	}
}

// jsonOf is v as JSON; the tests' values are plain structs, which always
// encode.
func jsonOf(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// visibleAgain makes a received message visible at once, as if it had
// not been received.
func (h *harness) visibleAgain(m received) {
	h.t.Helper()
	_, err := h.sqs.ChangeMessageVisibility(h.ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(h.cfg.WaitingQueueURL), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: 0})
	if err != nil {
		h.t.Fatal(err)
	}
}
