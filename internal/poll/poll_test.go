package poll

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/state"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeAPI answers lookups from a table of jobs; a job absent from it is
// NotFound, a job with err set fails with it.
type fakeAPI struct {
	mu    sync.Mutex
	jobs  map[string]jobState
	errs  map[string]error
	gets  int
	lists int
}

func (f *fakeAPI) GetBackendJob(_ context.Context, in *amplify.GetBackendJobInput, _ ...func(*amplify.Options)) (*amplify.GetBackendJobOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	id := aws.ToString(in.JobId)
	if err := f.errs[id]; err != nil {
		return nil, err
	}
	st, ok := f.jobs[id]
	if !ok {
		return nil, &types.NotFoundException{Message: aws.String("job not found")}
	}
	return &amplify.GetBackendJobOutput{JobId: in.JobId, Status: aws.String(st.Status), Error: nilIfEmpty(st.Error),
		Operation: aws.String(st.Operation), CreateTime: nilIfEmpty(st.CreateTime), UpdateTime: nilIfEmpty(st.UpdateTime)}, nil
}

func (f *fakeAPI) ListBackendJobs(_ context.Context, in *amplify.ListBackendJobsInput, _ ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	out := &amplify.ListBackendJobsOutput{}
	for id, st := range f.jobs {
		if strings.HasPrefix(id, "listed-") {
			out.Jobs = append(out.Jobs, types.BackendJobRespObj{JobId: aws.String(id), Status: aws.String(st.Status), Operation: aws.String(st.Operation)})
		}
	}
	return out, nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// fakeQueue records what is sent, per queue, and refuses bodies that
// contain reject.
type fakeQueue struct {
	mu     sync.Mutex
	sent   map[string][]sqstypes.SendMessageBatchRequestEntry
	reject string
}

func (q *fakeQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sent == nil {
		q.sent = map[string][]sqstypes.SendMessageBatchRequestEntry{}
	}
	if len(in.Entries) > 10 {
		return nil, fmt.Errorf("%d entries in one batch", len(in.Entries))
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if q.reject != "" && strings.Contains(aws.ToString(e.MessageBody), q.reject) {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false})
			continue
		}
		q.sent[aws.ToString(in.QueueUrl)] = append(q.sent[aws.ToString(in.QueueUrl)], e)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

func tracking(jobID string, mod func(*contract.TrackingMessage)) queue.Message {
	m := contract.TrackingMessage{
		Version: 1, AppID: "d1", BackendEnvironmentName: "dev", JobID: jobID, Operation: "CloneBackend",
		RequestID: "r-" + jobID, SubmittedAt: t0.Add(-5 * time.Minute), Deadline: t0.Add(6 * time.Hour), Polls: 3, LastStatus: "RUNNING",
	}
	if mod != nil {
		mod(&m)
	}
	b, _ := json.Marshal(m)
	return queue.Message{ID: "msg-" + jobID, Body: string(b)}
}

type harness struct {
	api   *fakeAPI
	queue *fakeQueue
	logs  *bytes.Buffer
	p     *Poller
}

func newHarness(policy schedule.Policy) *harness {
	h := &harness{api: &fakeAPI{jobs: map[string]jobState{}, errs: map[string]error{}}, queue: &fakeQueue{}, logs: &bytes.Buffer{}}
	h.p = New(Config{
		JobsQueueURL: "jobs", CompletionsQueueURL: "completions", WaitingQueueURL: "waiting",
		NotFoundGrace: 2 * time.Minute, NotFoundRetry: 5 * time.Second, Policy: policy,
		Now: func() time.Time { return t0 }, Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
		Retry: queue.Retry{Rand: func() float64 { return 0 }},
	}, h.api, h.queue)
	return h
}

func (h *harness) changes(t *testing.T) []contract.StatusChange {
	t.Helper()
	var out []contract.StatusChange
	for _, e := range h.queue.sent["completions"] {
		c, err := contract.DecodeStatusChange([]byte(aws.ToString(e.MessageBody)))
		if err != nil {
			t.Fatalf("poll sent an invalid status change: %v", err)
		}
		out = append(out, c)
	}
	return out
}

func (h *harness) requeued(t *testing.T) []sqstypes.SendMessageBatchRequestEntry {
	return h.queue.sent["jobs"]
}

// outcomeCase is one lookup and what poll makes of it.
type outcomeCase struct {
	job        *jobState
	err        error
	msg        func(*contract.TrackingMessage)
	wantStatus string // status change sent, "" for none
	wantDelay  int32  // re-queue delay, -1 for none
	wantFailed bool
	// wantAttempt is the re-queued message's attempt attribute (a copy
	// after a transient failure), wantParked that it went to the
	// dead-letter queue.
	wantAttempt int
	wantParked  bool
	// stillRunningAfter configures the STILL_RUNNING warning.
	stillRunningAfter time.Duration
	check             func(t *testing.T, c contract.StatusChange, m contract.TrackingMessage)
}

var outcomeCases = map[string]outcomeCase{
	"running past the warning age: STILL_RUNNING once, and re-queued": {
		job: &jobState{Status: "RUNNING", Operation: "CloneBackend"}, stillRunningAfter: 4 * time.Minute,
		wantStatus: "STILL_RUNNING", wantDelay: 10,
		check: func(t *testing.T, c contract.StatusChange, m contract.TrackingMessage) {
			if c.PreviousStatus != "RUNNING" || c.EventKey != "d1/dev/j/STILL_RUNNING" || c.DurationSeconds != 300 || !m.StillRunningSent {
				t.Errorf("status change %+v, re-queued %+v", c, m)
			}
		},
	},
	"warning already sent: none again": {
		job: &jobState{Status: "RUNNING", Operation: "CloneBackend"}, stillRunningAfter: 4 * time.Minute,
		msg: func(m *contract.TrackingMessage) { m.StillRunningSent = true }, wantDelay: 10,
	},
	"younger than the warning age: none": {
		job: &jobState{Status: "RUNNING", Operation: "CloneBackend"}, stillRunningAfter: time.Hour, wantDelay: 10,
	},
	"still running: re-queued by the policy": {
		job: &jobState{Status: "RUNNING", Operation: "CloneBackend", CreateTime: "2026-11-25T11:55:00.000Z"}, wantDelay: 10,
		check: func(t *testing.T, _ contract.StatusChange, m contract.TrackingMessage) {
			if m.Polls != 4 || m.LastStatus != "RUNNING" || m.CreateTime != "2026-11-25T11:55:00.000Z" {
				t.Errorf("re-queued message = %+v", m)
			}
		},
	},
	"completed": {
		job:        &jobState{Status: "COMPLETED", Operation: "CloneBackend", CreateTime: "2026-11-25T11:55:00Z", UpdateTime: "2026-11-25T11:59:30Z"},
		wantStatus: "COMPLETED", wantDelay: -1,
		check: func(t *testing.T, c contract.StatusChange, _ contract.TrackingMessage) {
			if c.DurationSeconds != 270 || c.PreviousStatus != "RUNNING" || c.Polls != 4 || c.DetectedAt != "2026-11-25T12:00:00.000Z" ||
				c.EventKey != "d1/dev/j/COMPLETED" || c.RequestID != "r-j" {
				t.Errorf("status change = %+v", c)
			}
		},
	},
	"failed carries the job's error": {
		job:        &jobState{Status: "FAILED", Error: "stack rollback", Operation: "CloneBackend"},
		wantStatus: "FAILED", wantDelay: -1,
		check: func(t *testing.T, c contract.StatusChange, _ contract.TrackingMessage) {
			if c.Error != "stack rollback" || c.DurationSeconds != 300 {
				t.Errorf("status change = %+v", c)
			}
		},
	},
	"not found within the grace period: retried soon": {
		msg:       func(m *contract.TrackingMessage) { m.SubmittedAt = t0.Add(-30 * time.Second) },
		wantDelay: 5,
	},
	"not found past the grace period: lost": {
		wantStatus: "LOST", wantDelay: -1,
		check: func(t *testing.T, c contract.StatusChange, _ contract.TrackingMessage) {
			if !strings.Contains(c.Error, "has not known job j") || c.DurationSeconds != 300 {
				t.Errorf("status change = %+v", c)
			}
		},
	},
	"past the deadline: timed out": {
		job:        &jobState{Status: "RUNNING", Operation: "CloneBackend"},
		msg:        func(m *contract.TrackingMessage) { m.Deadline = t0.Add(-time.Second) },
		wantStatus: "TIMED_OUT", wantDelay: -1,
		check: func(t *testing.T, c contract.StatusChange, _ contract.TrackingMessage) {
			if c.PreviousStatus != "RUNNING" || !strings.Contains(c.Error, "still RUNNING at the deadline") {
				t.Errorf("status change = %+v", c)
			}
		},
	},
	"ends at the deadline: the real outcome wins": {
		job:        &jobState{Status: "COMPLETED", Operation: "CloneBackend"},
		msg:        func(m *contract.TrackingMessage) { m.Deadline = t0.Add(-time.Second) },
		wantStatus: "COMPLETED", wantDelay: -1,
	},
	"next lookup capped at the deadline": {
		job:       &jobState{Status: "RUNNING", Operation: "CloneBackend"},
		msg:       func(m *contract.TrackingMessage) { m.Deadline = t0.Add(3 * time.Second) },
		wantDelay: 3,
	},
	// Issue 12 changed these two: a transient failure no longer leaves
	// the message for redelivery (its receive count would park it
	// during an outage) but sends a delayed copy in its stead.
	"throttled: a delayed copy replaces the message": {
		err: &types.TooManyRequestsException{Message: aws.String("Rate exceeded")}, wantDelay: 1, wantAttempt: 1, check: unchanged,
	},
	"server error: a delayed copy replaces the message": {
		err: &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, wantDelay: 1, wantAttempt: 1, check: unchanged,
	},
	"refused lookup: parked in the dead-letter queue": {
		err: &types.BadRequestException{Message: aws.String("bad job id")}, wantDelay: -1, wantParked: true,
	},
	"unknown status: still running, logged": {
		job: &jobState{Status: "QUEUED", Operation: "CloneBackend"}, wantDelay: 10,
	},
}

// unchanged checks a copy is the message as it came: no lookup counted.
func unchanged(t *testing.T, _ contract.StatusChange, m contract.TrackingMessage) {
	if m.Polls != 3 || m.LastStatus != "RUNNING" {
		t.Errorf("copy = %+v; want the message unchanged", m)
	}
}

func TestOutcomes(t *testing.T) {
	for name, tc := range outcomeCases {
		t.Run(name, func(t *testing.T) { checkOutcome(t, tc) })
	}
}

func checkOutcome(t *testing.T, tc outcomeCase) {
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.p.cfg.StillRunningAfter, h.p.cfg.DeadLetterQueueURL = tc.stillRunningAfter, "dlq"
	if tc.job != nil {
		h.api.jobs["j"] = *tc.job
	}
	if tc.err != nil {
		h.api.errs["j"] = tc.err
	}
	res := h.p.Handle(context.Background(), []queue.Message{tracking("j", tc.msg)})
	if got := len(res.Failed) == 1; got != tc.wantFailed {
		t.Errorf("failed = %v, want %v", res.Failed, tc.wantFailed)
	}
	if parked := h.queue.sent["dlq"]; (len(parked) == 1) != tc.wantParked || (tc.wantParked && res.Parked != 1) {
		t.Errorf("parked %d (%+v), want %v", len(parked), res, tc.wantParked)
	}
	changes := h.changes(t)
	var change contract.StatusChange
	switch {
	case tc.wantStatus == "" && len(changes) > 0:
		t.Errorf("unexpected status change %+v", changes)
	case tc.wantStatus != "" && (len(changes) != 1 || changes[0].Status != tc.wantStatus):
		t.Fatalf("status changes = %+v, want one %s", changes, tc.wantStatus)
	case tc.wantStatus != "":
		change = changes[0]
		if ended := contract.IsTerminal(tc.wantStatus); ended != (len(h.queue.sent["waiting"]) == 1) {
			t.Errorf("no wake-up sent for the environment whose job ended")
		}
	}
	requeued := h.requeued(t)
	var m contract.TrackingMessage
	switch {
	case tc.wantDelay < 0 && len(requeued) > 0:
		t.Errorf("unexpected re-queue %v", requeued)
	case tc.wantDelay >= 0:
		if len(requeued) != 1 || requeued[0].DelaySeconds != tc.wantDelay {
			t.Fatalf("re-queued = %+v, want one with DelaySeconds %d", requeued, tc.wantDelay)
		}
		m, _ = contract.DecodeTrackingMessage([]byte(aws.ToString(requeued[0].MessageBody)))
		if a := requeued[0].MessageAttributes[queue.AttemptAttribute].StringValue; tc.wantAttempt != 0 && aws.ToString(a) != strconv.Itoa(tc.wantAttempt) {
			t.Errorf("attempt attribute %q, want %d", aws.ToString(a), tc.wantAttempt)
		}
	}
	if tc.check != nil {
		tc.check(t, change, m)
	}
}

// TestChainedDelay checks waits beyond SQS's 900 s are chained: sent with
// 900 s and a NotBefore, and re-queued without a lookup when received early.
func TestChainedDelay(t *testing.T) {
	h := newHarness(schedule.Fixed{Interval: 2000 * time.Second})
	h.api.jobs["j"] = jobState{Status: "RUNNING", Operation: "CloneBackend"}
	h.p.Handle(context.Background(), []queue.Message{tracking("j", nil)})
	first := h.requeued(t)
	if len(first) != 1 || first[0].DelaySeconds != 900 {
		t.Fatalf("re-queued = %+v, want DelaySeconds 900", first)
	}
	m, _ := contract.DecodeTrackingMessage([]byte(aws.ToString(first[0].MessageBody)))
	if m.NotBefore == nil || !m.NotBefore.Equal(t0.Add(2000*time.Second)) {
		t.Fatalf("NotBefore = %v, want t0+2000s", m.NotBefore)
	}

	// Received 900 s later: 1100 s remain, 900 of them in this hop.
	h2 := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h2.p.cfg.Now = func() time.Time { return t0.Add(900 * time.Second) }
	res := h2.p.Handle(context.Background(), []queue.Message{{ID: "m", Body: aws.ToString(first[0].MessageBody)}})
	if h2.api.gets != 0 || res.Lookups != 0 {
		t.Errorf("looked the job up %d times before its time", h2.api.gets)
	}
	second := h2.requeued(t)
	if len(second) != 1 || second[0].DelaySeconds != 900 {
		t.Fatalf("second hop = %+v, want 900", second)
	}
	m2, _ := contract.DecodeTrackingMessage([]byte(aws.ToString(second[0].MessageBody)))
	if m2.Polls != m.Polls {
		t.Errorf("a hop without lookup counted a poll: %d -> %d", m.Polls, m2.Polls)
	}
}

// TestOneListPerEnvironment checks a batch holding several jobs of one
// environment costs one ListBackendJobs call, plus a GetBackendJob for a
// job the list does not show.
func TestOneListPerEnvironment(t *testing.T) {
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.api.jobs["listed-1"] = jobState{Status: "COMPLETED", Operation: "CloneBackend"}
	h.api.jobs["listed-2"] = jobState{Status: "RUNNING", Operation: "CloneBackend"}
	h.api.jobs["old"] = jobState{Status: "COMPLETED", Operation: "CloneBackend"}
	h.api.jobs["other-env"] = jobState{Status: "RUNNING", Operation: "CloneBackend"}
	res := h.p.Handle(context.Background(), []queue.Message{
		tracking("listed-1", nil), tracking("listed-2", nil), tracking("old", nil),
		tracking("other-env", func(m *contract.TrackingMessage) { m.BackendEnvironmentName = "prod" }),
	})
	if h.api.lists != 1 || h.api.gets != 2 || res.Lookups != 3 {
		t.Errorf("lists, gets, lookups = %d, %d, %d; want 1, 2, 3", h.api.lists, h.api.gets, res.Lookups)
	}
	if res.Completed != 2 || res.Requeued != 2 || len(res.Failed) != 0 {
		t.Errorf("result = %+v", res)
	}
	if len(h.queue.sent["waiting"]) != 1 {
		t.Errorf("wake-ups = %d, want one for d1/dev", len(h.queue.sent["waiting"]))
	}
}

// TestMalformedAndRejected checks bad messages and messages the queue
// refused are reported failed, and the others are not.
func TestMalformedAndRejected(t *testing.T) {
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.queue.reject = `"jobId":"refused"`
	h.api.jobs["ok"] = jobState{Status: "RUNNING", Operation: "CloneBackend"}
	h.api.jobs["refused"] = jobState{Status: "COMPLETED", Operation: "CloneBackend"}
	res := h.p.Handle(context.Background(), []queue.Message{
		{ID: "bad-json", Body: `{"v":1,`},
		{ID: "bad-version", Body: `{"v":9,"appId":"d1"}`},
		tracking("ok", nil),
		tracking("refused", nil),
	})
	want := map[string]bool{"bad-json": true, "bad-version": true, "msg-refused": true}
	if len(res.Failed) != len(want) {
		t.Errorf("failed = %v, want %v", res.Failed, want)
	}
	for _, id := range res.Failed {
		if !want[id] {
			t.Errorf("message %s reported failed", id)
		}
	}
	for _, id := range []string{"bad-json", "bad-version"} {
		if !strings.Contains(h.logs.String(), `"messageId":"`+id+`"`) {
			t.Errorf("no log line names malformed message %s", id)
		}
	}
}

// TestTrackedJobs checks poll records a job's end in the state table (moto)
// and then drops a duplicate of its tracking message without a lookup.
func TestTrackedJobs(t *testing.T) {
	c, table := testenv.Table(t, "state")
	store := state.New(c, table, state.Options{})
	key := state.JobKey{AppID: "d1", Env: "dev", JobID: "j"}
	var first contract.TrackingMessage
	_ = json.Unmarshal([]byte(tracking("j", nil).Body), &first)
	if _, err := store.TrackJob(context.Background(), first, "submit"); err != nil {
		t.Fatal(err)
	}
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.p.cfg.Tracked = store
	h.api.jobs["j"] = jobState{Status: "COMPLETED", Operation: "CloneBackend"}

	if res := h.p.Handle(context.Background(), []queue.Message{tracking("j", nil)}); res.Completed != 1 {
		t.Fatalf("first message: %+v", res)
	}
	if done, _ := store.EndedJobs(context.Background(), []state.JobKey{key}); !done[key] {
		t.Error("the job's end was not recorded")
	}
	if running, _ := store.RunningJobs(context.Background(), "d1", "dev"); len(running) != 0 {
		t.Errorf("ended job still listed as running: %v", running)
	}
	gets := h.api.gets
	res := h.p.Handle(context.Background(), []queue.Message{tracking("j", nil)})
	if res.Dropped != 1 || len(res.Failed) != 0 || h.api.gets != gets || len(h.changes(t)) != 1 {
		t.Errorf("duplicate message: %+v, %d lookups, %d status changes; want it dropped without a lookup", res, h.api.gets-gets, len(h.changes(t)))
	}
}

func TestMain(m *testing.M) { testenv.Main(m) }

// TestHint checks a push hint settles the tracked jobs of its environment
// that ended (announced once, recorded), leaves running ones to their
// messages, and that the ended job's own message is then dropped without
// a lookup.
func TestHint(t *testing.T) {
	c, table := testenv.Table(t, "state")
	store := state.New(c, table, state.Options{})
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.p.cfg.Tracked, h.p.cfg.AppIDs = store, []string{"d1"}
	msgs := map[string]queue.Message{}
	for _, id := range []string{"ended", "running"} {
		msgs[id] = tracking(id, func(m *contract.TrackingMessage) { m.Operation = "UpdateBackendAPI" })
		var m contract.TrackingMessage
		_ = json.Unmarshal([]byte(msgs[id].Body), &m)
		if _, err := store.TrackJob(context.Background(), m, "submit"); err != nil {
			t.Fatal(err)
		}
	}
	h.api.jobs["ended"] = jobState{Status: "COMPLETED", Operation: "UpdateBackendAPI"}
	h.api.jobs["running"] = jobState{Status: "RUNNING", Operation: "UpdateBackendAPI"}

	event := `{"detail-type":"CloudFormation Stack Status Change","source":"aws.cloudformation",
		"detail":{"stack-id":"arn:aws:cloudformation:us-east-1:123456789012:stack/amplify-demo-dev-123456/abc","status-details":{"status":"UPDATE_COMPLETE"}}}`
	out, err := h.p.HandleLambda(context.Background(), json.RawMessage(event))
	if err != nil {
		t.Fatal(err)
	}
	if hr := out.(HintResult); hr.Environment != "dev" || hr.Completed != 1 || hr.Dropped != 1 || hr.Lookups == 0 {
		t.Errorf("hint = %+v, want 1 announced and the running one left", hr)
	}
	changes := h.changes(t)
	if len(changes) != 1 || changes[0].JobID != "ended" || changes[0].Status != "COMPLETED" {
		t.Fatalf("status changes = %+v", changes)
	}
	if len(h.requeued(t)) != 0 {
		t.Error("a hint re-queued a running job; its own message is still on the queue")
	}
	// The ended job's message comes due: dropped, no lookup, no second change.
	gets := h.api.gets
	res := h.p.Handle(context.Background(), []queue.Message{msgs["ended"], msgs["running"]})
	if res.Dropped != 1 || res.Requeued != 1 || h.api.gets != gets+1 || len(h.changes(t)) != 1 {
		t.Errorf("after the hint: %+v, %d lookups; want the ended job's message dropped", res, h.api.gets-gets)
	}
	// A nested stack's event is not a hint.
	nested := strings.Replace(event, "amplify-demo-dev-123456", "amplify-demo-dev-123456-authdemo-XYZ", 1)
	if out, err := h.p.HandleLambda(context.Background(), json.RawMessage(nested)); err != nil || out.(HintResult).Environment != "" {
		t.Errorf("nested stack: %+v, %v", out, err)
	}
}

// TestHintPerOperation checks a stack's status change reaches the jobs
// whose end it announces (stacks.Of): a clone through the stack of the
// environment it creates, not its source's; a job that deploys nothing
// never; a job of the environment only for a status its operation ends in.
func TestHintPerOperation(t *testing.T) {
	c, table := testenv.Table(t, "state")
	store := state.New(c, table, state.Options{})
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.p.cfg.Tracked, h.p.cfg.AppIDs = store, []string{"d1"}
	jobs := map[string]func(*contract.TrackingMessage){
		"clone":  func(m *contract.TrackingMessage) { m.TargetEnvironmentName = "preview" },
		"models": func(m *contract.TrackingMessage) { m.Operation = "GenerateBackendAPIModels" },
		"api":    func(m *contract.TrackingMessage) { m.Operation = "UpdateBackendAPI" },
	}
	for id, mod := range jobs {
		var m contract.TrackingMessage
		_ = json.Unmarshal([]byte(tracking(id, mod).Body), &m)
		if _, err := store.TrackJob(context.Background(), m, "submit"); err != nil {
			t.Fatal(err)
		}
		h.api.jobs[id] = jobState{Status: "COMPLETED", Operation: m.Operation}
	}
	hint := func(env, status string) []string {
		before := len(h.changes(t))
		event := fmt.Sprintf(`{"detail-type":"CloudFormation Stack Status Change","source":"aws.cloudformation",
			"detail":{"stack-id":"arn:aws:cloudformation:us-east-1:123456789012:stack/amplify-demo-%s-123456/abc","status-details":{"status":%q}}}`, env, status)
		if _, err := h.p.HandleLambda(context.Background(), json.RawMessage(event)); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range h.changes(t)[before:] {
			ids = append(ids, c.JobID)
		}
		return ids
	}
	for _, step := range []struct {
		env, status string
		want        []string
	}{
		{"dev", "DELETE_COMPLETE", nil},             // no job here ends with a deleted stack
		{"dev", "UPDATE_COMPLETE", []string{"api"}}, // the clone's source and GenerateBackendAPIModels: not announced
		{"preview", "CREATE_COMPLETE", []string{"clone"}},
	} {
		if got := hint(step.env, step.status); !slices.Equal(got, step.want) {
			t.Errorf("%s %s announced %v; want %v", step.env, step.status, got, step.want)
		}
	}
}
