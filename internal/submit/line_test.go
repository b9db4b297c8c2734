package submit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// Three requests for a busy environment wait in one line and are
// submitted in arrival order as the environment frees; one chain of
// wake-ups serves the line.
func TestLineSubmitsInArrivalOrder(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	for i, id := range []string{"r-1", "r-2", "r-3"} {
		res := h.submit(cloneRequest(id, "line", "pr-line-"+id))
		if res.Status != StatusWaiting || res.JobID != "" {
			t.Fatalf("%s: %+v, want WAITING without a job", id, res)
		}
		h.clock.Advance(time.Second)
		if got := h.line("line"); len(got) != i+1 || got[i] != id {
			t.Fatalf("line after %s = %v", id, got)
		}
	}
	if n := len(h.sent.to(h.cfg.WaitingQueueURL)); n != 1 {
		t.Errorf("%d wake-ups sent for three waiting requests, want 1 (one chain per line)", n)
	}

	// Busy: a wake-up changes nothing but schedules the next one.
	if n, failed := h.pump(); n != 1 || len(failed) != 0 {
		t.Fatalf("pump: %d delivered, failed %v", n, failed)
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-1", "r-2", "r-3"}) {
		t.Fatalf("line after a busy wake-up = %v", got)
	}

	job := blocker
	var order []string
	for range 3 {
		h.finish("line", job)
		h.clock.Advance(time.Minute)
		if _, failed := h.pump(); len(failed) != 0 {
			t.Fatalf("wake-ups failed: %v", failed)
		}
		tr := h.tracking()
		if len(tr) != 1 {
			t.Fatalf("after the environment freed: %d tracking messages, want 1 (line %v)", len(tr), h.line("line"))
		}
		order = append(order, tr[0].RequestID)
		job = tr[0].JobID
		if rec := h.record(tr[0].RequestID); rec.State != state.Started || rec.JobID != job || rec.Status != "RUNNING" {
			t.Errorf("record of %s = %+v, want submitted with job %s", tr[0].RequestID, rec, job)
		}
		if n := h.count(h.cfg.WaitingQueueURL); len(h.line("line")) > 0 && n != 1 {
			t.Errorf("%d wake-ups pending for a non-empty line, want 1", n)
		}
	}
	if !reflect.DeepEqual(order, []string{"r-1", "r-2", "r-3"}) {
		t.Errorf("submission order = %v, want arrival order", order)
	}
	if got := h.line("line"); len(got) != 0 {
		t.Errorf("line = %v, want empty", got)
	}
	// The chain ends with the line.
	h.pump()
	if n := h.count(h.cfg.WaitingQueueURL); n != 0 {
		t.Errorf("%d wake-ups left for an empty line", n)
	}
	// A repeated request now answers with the job it got while waiting.
	if res := h.submit(cloneRequest("r-2", "line", "pr-line-r-2")); res.Status != "RUNNING" || res.JobID == "" {
		t.Errorf("repeated r-2 after it was submitted: %+v, want its job", res)
	}
}

// A fresh request never overtakes the line, even when the environment is
// free before a wake-up came.
func TestFreshRequestJoinsBackOfLine(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-early", "line", "pr-early"))
	h.finish("line", blocker) // free now, but no wake-up has looked yet

	res := h.submit(cloneRequest("r-late", "line", "pr-late"))
	if res.Status != StatusWaiting {
		t.Fatalf("fresh request with a line waiting: %+v, want WAITING", res)
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-early", "r-late"}) {
		t.Fatalf("line = %v, want [r-early r-late]", got)
	}
	h.pump()
	tr := h.tracking()
	if len(tr) != 1 || tr[0].RequestID != "r-early" {
		t.Fatalf("submitted %v, want r-early first", requestIDs(tr))
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-late"}) {
		t.Errorf("line = %v, want [r-late]", got)
	}
}

// A request that waits past its wait deadline ends TIMED_OUT: a status
// change goes to the completions queue and the line moves on.
func TestWaitDeadlineTimesOut(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WaitDeadline = time.Hour })
	h.occupy("line")
	h.submit(cloneRequest("r-old", "line", "pr-old"))
	h.clock.Advance(40 * time.Minute)
	h.submit(cloneRequest("r-young", "line", "pr-young"))
	h.clock.Advance(30 * time.Minute) // r-old waited 70 min, r-young 30

	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	sc := h.statusChanges()
	if len(sc) != 1 {
		t.Fatalf("%d status changes, want 1", len(sc))
	}
	got := sc[0]
	want := contract.StatusChange{Version: 1, AppID: testApp, BackendEnvironmentName: "line", JobID: "",
		Operation: "CloneBackend", Status: contract.StatusTimedOut, PreviousStatus: StatusWaiting,
		SubmittedAt: contract.Timestamp(testStart), DetectedAt: contract.Timestamp(testStart.Add(70 * time.Minute)),
		DurationSeconds: 4200, RequestID: "r-old",
		EventKey: contract.EventKey(testApp, "line", "", "r-old", contract.StatusTimedOut)}
	got.Error = ""
	if got != want {
		t.Errorf("status change = %+v\nwant %+v", got, want)
	}
	if !strings.Contains(sc[0].Error, "wait deadline") {
		t.Errorf("error = %q, want it to say the wait deadline passed", sc[0].Error)
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-young"}) {
		t.Errorf("line = %v, want [r-young]", got)
	}
	if rec := h.record("r-old"); rec.State != state.TimedOut {
		t.Errorf("record = %+v, want timedOut", rec)
	}
	if res := h.submit(cloneRequest("r-old", "line", "pr-old")); res.Status != contract.StatusTimedOut {
		t.Errorf("repeated r-old: %+v, want TIMED_OUT", res)
	}
	if n := h.jobsCreated(); n != 1 {
		t.Errorf("%d jobs, want only the blocker", n)
	}
}

// Duplicate wake-ups, in one batch or concurrent, submit the head once and
// never remove a request that was not submitted.
func TestDuplicateWakeups(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	for _, id := range []string{"r-a", "r-b"} {
		h.submit(cloneRequest(id, "line", "pr-"+id))
	}
	h.finish("line", blocker)
	body := fmt.Sprintf(`{"v":1,"appId":%q,"backendEnvironmentName":"line"}`, testApp)

	var wg sync.WaitGroup
	failures := make(chan []string, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failures <- h.s.Wake(h.ctx, []queue.Message{{ID: fmt.Sprintf("dup-%d-a", i), Body: body}, {ID: fmt.Sprintf("dup-%d-b", i), Body: body}})
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		if len(f) != 0 {
			t.Errorf("failed ids %v", f)
		}
	}
	tr := h.tracking()
	if len(tr) != 1 || tr[0].RequestID != "r-a" {
		t.Fatalf("tracking messages for %v, want exactly one for r-a", requestIDs(tr))
	}
	if n := h.jobsCreated(); n != 2 {
		t.Errorf("%d jobs, want the blocker and r-a", n)
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-b"}) {
		t.Errorf("line = %v, want [r-b]", got)
	}
	// The next wake-up after r-a's job ends moves r-b.
	h.finish("line", tr[0].JobID)
	h.s.Wake(h.ctx, []queue.Message{{ID: "late", Body: body}})
	if tr := h.tracking(); len(tr) != 1 || tr[0].RequestID != "r-b" {
		t.Errorf("then submitted %v, want r-b", requestIDs(tr))
	}
}

// Throttling and 5xx on the waiting path put the wake-up off: a fresh
// copy comes back after a backoff (its attempt counted) and the original
// is done — no receive is spent; the request stays at the head and goes
// once the service answers.
func TestWaitingPathServiceErrorsRetry(t *testing.T) {
	tests := map[string]error{
		"throttled":       &types.TooManyRequestsException{Message: aws.String("Rate exceeded")},
		"gateway timeout": &types.GatewayTimeoutException{Message: aws.String("timed out")},
		"network":         errors.New("dial tcp 127.0.0.1:1: connection refused"),
	}
	for name, callErr := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			blocker := h.occupy("line")
			h.submit(cloneRequest("r-x", "line", "pr-x"))
			h.finish("line", blocker)
			// The blocker, a CloneBackend started outside jobwatch, is older than
			// the clock-skew allowance: not taken for the job of r-x's unanswered
			// call (TestUnansweredCallWindow shows what happens within it).
			h.clock.Advance(state.ClockSkew + time.Minute)
			h.setCallHook(func(*amplify.Operation, any) error { return callErr })

			n, failed := h.pump()
			if n != 1 || len(failed) != 0 {
				t.Fatalf("pump: delivered %d, failed %v; want the wake-up done (put off)", n, failed)
			}
			checkPutOff(t, h, 1)
			if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-x"}) {
				t.Errorf("line = %v, want [r-x]", got)
			}
			if rec := h.record("r-x"); rec.State != state.Waiting || rec.LockToken != "" {
				t.Errorf("record = %+v, want waiting and unlocked", rec)
			}

			h.setCallHook(nil)
			if _, failed := h.pumpLater(); len(failed) != 0 { // the copy, after its backoff
				t.Fatalf("retry failed: %v", failed)
			}
			if tr := h.tracking(); len(tr) != 1 || tr[0].RequestID != "r-x" {
				t.Errorf("after the retry: tracking for %v, want r-x", requestIDs(tr))
			}
			if n := h.jobsCreated(); n != 2 {
				t.Errorf("%d jobs, want the blocker and r-x's", n)
			}
		})
	}
}

// checkPutOff expects the last wake-up sent to be a copy put off after a
// failure: its attempt counted, delayed.
func checkPutOff(t *testing.T, h *harness, attempt int) {
	t.Helper()
	sent := h.sent.to(h.cfg.WaitingQueueURL)
	if len(sent) == 0 {
		t.Fatal("no wake-up sent")
	}
	last := sent[len(sent)-1]
	a, ok := last.MessageAttributes[queue.AttemptAttribute]
	if !ok || aws.ToString(a.StringValue) != fmt.Sprint(attempt) || last.DelaySeconds < 1 {
		t.Errorf("last wake-up: attempt %v, delay %ds; want a copy of attempt %d, delayed", a.StringValue, last.DelaySeconds, attempt)
	}
}

// The emulator's own throttling reaches the waiting path the same way.
func TestWaitingPathEmulatorThrottling(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-t", "line", "pr-t"))
	h.finish("line", blocker)
	h.setFaults(emulatorThrottle(1))
	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("failed = %v, want the wake-up put off", failed)
	}
	checkPutOff(t, h, 1)
	if !strings.Contains(h.logs.String(), "TooManyRequestsException") {
		t.Errorf("logs do not name the throttling")
	}
	if _, failed := h.pumpLater(); len(failed) != 0 { // still throttled: put off again, longer
		t.Fatalf("failed = %v", failed)
	}
	checkPutOff(t, h, 2)
	h.setFaults(emulatorThrottle(0))
	if _, failed := h.pumpLater(); len(failed) != 0 {
		t.Fatalf("failed = %v", failed)
	}
	if tr := h.tracking(); len(tr) != 1 {
		t.Errorf("%d tracking messages, want 1", len(tr))
	}
}

// A request the service refuses for good while it waits (its environment
// went away) ends FAILED and the line moves on.
func TestWaitingRequestRefusedByService(t *testing.T) {
	h := newHarness(t)
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-gone", "line", "pr-gone"))
	h.submit(cloneRequest("r-next", "line", "pr-next"))
	h.finish("line", blocker)
	h.setCallHook(func(_ *amplify.Operation, in any) error {
		if aws.ToString(in.(*amplify.CloneBackendInput).TargetEnvironmentName) == envNamed("pr-gone") {
			return &types.NotFoundException{Message: aws.String("environment not found"), ResourceType: aws.String("BackendEnvironment")}
		}
		return nil
	})
	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("failed = %v", failed)
	}
	sc := h.statusChanges()
	if len(sc) != 1 || sc[0].Status != contract.StatusFailed || sc[0].RequestID != "r-gone" ||
		!strings.Contains(sc[0].Error, "NotFoundException") || sc[0].PreviousStatus != StatusWaiting {
		t.Fatalf("status changes = %+v, want FAILED for r-gone naming NotFoundException", sc)
	}
	if tr := h.tracking(); len(tr) != 1 || tr[0].RequestID != "r-next" {
		t.Errorf("then submitted %v, want r-next", requestIDs(tr))
	}
}

// A wake-up whose next wake-up cannot be sent fails, so it is delivered
// again instead of the line being forgotten.
func TestWakeupSendFailure(t *testing.T) {
	h := newHarness(t)
	h.occupy("line")
	h.submit(cloneRequest("r-w", "line", "pr-w"))
	h.sent.setFail(func(in *sqs.SendMessageInput) error {
		if aws.ToString(in.QueueUrl) == h.cfg.WaitingQueueURL {
			return errSQSDown
		}
		return nil
	})
	if _, failed := h.pump(); len(failed) != 1 {
		t.Fatalf("failed = %v, want the wake-up (its successor could not be sent)", failed)
	}
	h.sent.setFail(nil)
	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("retry failed: %v", failed)
	}
	if n := h.count(h.cfg.WaitingQueueURL); n != 1 {
		t.Errorf("%d wake-ups pending, want 1", n)
	}
}

// A fresh request that cannot schedule a wake-up fails (to be retried);
// the retry finds it in the line and schedules.
func TestJoinWakeupSendFailure(t *testing.T) {
	h := newHarness(t)
	h.occupy("line")
	h.sent.setFail(func(in *sqs.SendMessageInput) error {
		if aws.ToString(in.QueueUrl) == h.cfg.WaitingQueueURL {
			return errSQSDown
		}
		return nil
	})
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-j", "line", "pr-j")); err == nil {
		t.Fatal("Submit succeeded without a wake-up scheduled")
	}
	h.sent.setFail(nil)
	if res := h.submit(cloneRequest("r-j", "line", "pr-j")); res.Status != StatusWaiting {
		t.Fatalf("retry: %+v", res)
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-j"}) {
		t.Errorf("line = %v, want [r-j] once", got)
	}
	if n := h.count(h.cfg.WaitingQueueURL); n != 1 {
		t.Errorf("%d wake-ups, want 1", n)
	}
}

// The line is bounded.
func TestLineBound(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxLine = 2 })
	h.occupy("line")
	h.submit(cloneRequest("r-b1", "line", "pr-b1"))
	h.submit(cloneRequest("r-b2", "line", "pr-b2"))
	_, err := h.s.Submit(h.ctx, cloneRequest("r-b3", "line", "pr-b3"))
	if _, ok := asError[*RefusedError](err); !ok || !strings.Contains(err.Error(), "2 requests already wait for app d1abc23 environment line") {
		t.Fatalf("third request: %v, want a RefusedError saying the line is full", err)
	}
	expectRefused(t, h, "r-b3", "the most a line holds")
}

// The line item stays under DynamoDB's item size limit.
func TestLineSizeBound(t *testing.T) {
	h := newHarness(t)
	h.occupy("line")
	big := strings.Repeat("x", 120*1024)
	in := fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":"line","ResourceName":"main","ResourceConfig":{"TransformSchema":%q}}`, testApp, big)
	var err error
	for i := range 4 {
		_, err = h.s.Submit(h.ctx, contract.JobRequest{Operation: "CreateBackendAPI", Input: []byte(in), RequestID: fmt.Sprint("r-big-", i)})
		if err != nil {
			break
		}
	}
	if _, ok := asError[*RefusedError](err); !ok || !strings.Contains(err.Error(), "fill the line") {
		t.Fatalf("err = %v, want a RefusedError about the line's size", err)
	}
	if n := len(h.line("line")); n != 2 {
		t.Errorf("line holds %d big requests, want 2", n)
	}
}

// Wake-ups that are not wake-ups are reported, naming the problem.
func TestMalformedWakeup(t *testing.T) {
	h := newHarness(t)
	tests := map[string]struct{ body, want string }{
		"not JSON":      {`{"v":1,`, "not valid JSON"},
		"no app":        {`{"v":1,"backendEnvironmentName":"dev"}`, `"appId" is required`},
		"wrong version": {`{"v":9,"appId":"a","backendEnvironmentName":"dev"}`, `"v" is 9`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id := "m-" + strings.ReplaceAll(name, " ", "-")
			failed := h.s.Wake(h.ctx, []queue.Message{{ID: id, Body: tc.body}, {ID: "ok", Body: `{"v":1,"appId":"d1abc23","backendEnvironmentName":"dev"}`}})
			if !reflect.DeepEqual(failed, []string{id}) {
				t.Fatalf("failed = %v, want [%s]", failed, id)
			}
			found := false
			for _, l := range logLines(t, h.logs) {
				if l["messageId"] == id && strings.Contains(fmt.Sprint(l["error"]), tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no log line with messageId %s and an error containing %q", id, tc.want)
			}
		})
	}
}

// lostReplyTable performs chosen PutItems but answers them as if the
// condition had failed: what a retried write whose first reply was lost
// looks like to the caller (DynamoDB returns the item as the first write
// left it, when asked to).
type lostReplyTable struct {
	state.Client
	mu   sync.Mutex
	puts map[string]int // puts seen per key
	lose map[string]int // key → the put (1-based) whose reply is lost
}

func (l *lostReplyTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := l.Client.PutItem(ctx, in, optFns...)
	key := in.Item["pk"].(*ddbtypes.AttributeValueMemberS).Value
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.puts[key]++
		if l.lose[key] == l.puts[key] {
			lost := &ddbtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
			if in.ReturnValuesOnConditionCheckFailure == ddbtypes.ReturnValuesOnConditionCheckFailureAllOld {
				lost.Item = in.Item
			}
			return nil, lost
		}
	}
	return out, err
}

// A write that landed but was reported lost is recognised as ours, on the
// fresh path and on the waiting path.
func TestLostWriteReply(t *testing.T) {
	h := newHarness(t)
	h.withTable(&lostReplyTable{Client: h.ddb, puts: map[string]int{},
		lose: map[string]int{"req#r-lost": 1, "req#r-lost-wait": 5}}) // create; create, starting, received (busy), waiting, lock
	if res := h.submit(cloneRequest("r-lost", "dev", "pr-lost")); res.Status != "RUNNING" {
		t.Fatalf("fresh path: %+v, want RUNNING", res)
	}
	blocker := h.occupy("line")
	h.submit(cloneRequest("r-lost-wait", "line", "pr-lost-wait"))
	h.finish("line", blocker)
	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if tr := h.tracking(); len(tr) != 2 || tr[1].RequestID != "r-lost-wait" {
		t.Errorf("submitted %v, want r-lost then r-lost-wait", requestIDs(tr))
	}
	if n := h.jobsCreated(); n != 3 {
		t.Errorf("%d jobs, want 3 (r-lost, the blocker, r-lost-wait)", n)
	}
}

// Requests arriving concurrently with wake-ups all get into the line once,
// and leave it in line order, one job each, with extra wake-ups racing.
func TestConcurrentRequestsAndWakeups(t *testing.T) {
	h := newHarness(t)
	job := h.occupy("line")
	body := fmt.Sprintf(`{"v":1,"appId":%q,"backendEnvironmentName":"line"}`, testApp)
	var wg sync.WaitGroup
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.s.Submit(h.ctx, cloneRequest(fmt.Sprint("r-c-", i), "line", fmt.Sprint("pr-c-", i)))
			if err == nil && res.Status != StatusWaiting {
				err = fmt.Errorf("%s: %+v, want WAITING", res.RequestID, res)
			}
			errs <- err
		}()
	}
	extraWakeups := func(tag string) {
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if failed := h.s.Wake(h.ctx, []queue.Message{{ID: fmt.Sprint("extra-", tag, i), Body: body}}); len(failed) != 0 {
					errs <- fmt.Errorf("extra wake-up failed")
				}
			}()
		}
	}
	extraWakeups("a")
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	arrival := h.line("line")
	if len(arrival) != n {
		t.Fatalf("line = %v, want %d requests", arrival, n)
	}

	var order []string
	for round := 0; len(h.line("line")) > 0 && round < 3*n; round++ {
		h.finish("line", job)
		extraWakeups(fmt.Sprint("b", round)) // poll's wake-ups, racing the chain
		h.pump()
		wg.Wait()
		for _, tm := range h.tracking() {
			order = append(order, tm.RequestID)
			job = tm.JobID
		}
	}
	if !reflect.DeepEqual(order, arrival) {
		t.Errorf("submitted in order %v, want the line's order %v", order, arrival)
	}
	if got := h.jobsCreated(); got != n+1 {
		t.Errorf("%d jobs, want %d", got, n+1)
	}
}

// failingPutTable fails chosen PutItems without performing them, as a
// DynamoDB outage or a crash between two writes would leave things.
type failingPutTable struct {
	state.Client
	mu   sync.Mutex
	puts map[string]int
	fail map[string]int // key → the put (1-based) that fails
	// crashed makes the failing put and every later one of its key fail,
	// as after a crash of the invocation, until revive.
	crashed bool
}

func (f *failingPutTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	key := in.Item["pk"].(*ddbtypes.AttributeValueMemberS).Value
	f.mu.Lock()
	f.puts[key]++
	failNow := f.fail[key] == f.puts[key] || f.crashed && f.fail[key] > 0 && f.puts[key] > f.fail[key]
	f.mu.Unlock()
	if failNow {
		return nil, errors.New("dynamodb unavailable (test)")
	}
	return f.Client.PutItem(ctx, in, optFns...)
}

// revive ends the failures of a crashed table.
func (f *failingPutTable) revive() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[string]int{}
}

// A request whose invocation failed after it joined the line (its record
// still "new" and leased) is not lost: once the lease ends, the line
// submits it, and the retried request answers with its job.
func TestInterruptedJoinRecovers(t *testing.T) {
	h := newHarness(t)
	h.withTable(&failingPutTable{Client: h.ddb, puts: map[string]int{}, fail: map[string]int{"req#r-crash": 4}}) // create, starting, received (busy), then "waiting"
	blocker := h.occupy("line")
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-crash", "line", "pr-crash")); err == nil {
		t.Fatal("Submit succeeded although its record could not be written")
	}
	if got := h.line("line"); !reflect.DeepEqual(got, []string{"r-crash"}) {
		t.Fatalf("line = %v, want [r-crash]", got)
	}
	if _, err := h.s.Submit(h.ctx, cloneRequest("r-crash", "line", "pr-crash")); err == nil {
		t.Fatal("a retry within the lease succeeded; want InProgressError")
	} else if _, ok := asError[*InProgressError](err); !ok {
		t.Fatalf("retry within the lease: %v, want InProgressError", err)
	}
	h.clock.Advance(lockLease + time.Second)
	h.finish("line", blocker)
	if _, failed := h.pump(); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	tr := h.tracking()
	if len(tr) != 1 || tr[0].RequestID != "r-crash" {
		t.Fatalf("submitted %v, want r-crash", requestIDs(tr))
	}
	if res := h.submit(cloneRequest("r-crash", "line", "pr-crash")); res.JobID != tr[0].JobID {
		t.Errorf("retry answered %+v, want job %s", res, tr[0].JobID)
	}
	if n := h.jobsCreated(); n != 2 {
		t.Errorf("%d jobs, want 2", n)
	}
}
