package submit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testApp = "d1abc23"

// testStart is where the tests' clock starts.
var testStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// harness is a Submitter wired to real moto queues and table and to an
// in-process Admin API emulator, sharing one manual clock.
type harness struct {
	t     *testing.T
	ctx   context.Context
	clock *emulator.ManualClock
	emu   *emulator.Server
	api   *amplify.Client
	sqs   *sqs.Client
	ddb   *dynamodb.Client
	store *state.Store
	cfg   Config
	s     *Submitter
	logs  *testenv.Buffer
	// sent records every SendMessage and can fail chosen ones.
	sent *recordingSQS
	// callHook, when set, answers Admin API calls before the emulator;
	// afterCall, when set, sees each call's error after the emulator.
	hookMu    sync.Mutex
	callHook  func(op *amplify.Operation, in any) error
	afterCall func(op *amplify.Operation, err error)
	// emf holds the metrics the Submitter wrote.
	emf *testenv.Buffer
}

type harnessOption func(*Config)

// envs are the backend environments of the emulator's app.
var envs = []string{"dev", "staging", "auth", "api", "models", "busy", "line", "other"}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	endpoint := testenv.Moto(t)
	ctx := testenv.Context(t)
	awsCfg := testenv.AWSConfig(endpoint)
	h := &harness{t: t, ctx: ctx, clock: emulator.NewManualClock(testStart),
		sqs: sqs.NewFromConfig(awsCfg), ddb: dynamodb.NewFromConfig(awsCfg), logs: &testenv.Buffer{}, emf: &testenv.Buffer{}}

	emu, err := emulator.Start(emulator.Config{Clock: h.clock, Seed: 7,
		JobDurations: emulator.FixedDurations(1000*time.Hour, nil), // jobs end when a test says so,
		State:        &emulator.State{Apps: []emulator.StateApp{{AppId: testApp, AppName: "demo", Environments: envs}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	h.emu = emu
	h.api = amplify.NewFromConfig(awsCfg, func(o *amplify.Options) {
		o.BaseEndpoint = aws.String(emu.URL)
		o.RetryMaxAttempts = 1 // throttling must reach the code under test, fast
	})

	h.cfg = Config{
		JobsQueueURL:           h.createQueue("jobs"),
		WaitingQueueURL:        h.createQueue("waiting"),
		CompletionsQueueURL:    h.createQueue("completions"),
		SubmitFailuresQueueURL: h.createQueue("failures"),
		StateTable:             h.createTable(),
		AllowedAppIDs:          []string{testApp},
		Deadline:               6 * time.Hour,
		WaitDeadline:           6 * time.Hour,
		InitialPollDelay:       0, // moto holds delayed messages back; TestDelays checks the delays
		WaitRetryDelay:         0,
		// Work put off comes back after a second (the least Backoff gives).
		BackoffBase: time.Millisecond, BackoffLimit: time.Millisecond,
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	h.sent = &recordingSQS{API: h.sqs}
	h.store = h.storeOver(h.ddb)
	h.s = h.submitter(h.call, h.sent, h.store)
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() && os.Getenv("SUBMIT_TEST_LOGS") != "" {
			t.Logf("submit logs:\n%s", h.logs.String())
		}
	})
	return h
}

// call is the harness's Admin API: the real client (ClientCall, whose
// job-starting calls the SDK retries on throttling only) with the hooks.
func (h *harness) call(ctx context.Context, op *amplify.Operation, in any) (any, error) {
	h.hookMu.Lock()
	hook, after := h.callHook, h.afterCall
	h.hookMu.Unlock()
	if hook != nil {
		if err := hook(op, in); err != nil {
			return nil, err
		}
	}
	out, err := ClientCall(h.api)(ctx, op, in)
	if after != nil {
		after(op, err)
	}
	return out, err
}

// submitter is a Submitter on the harness's configuration, clock, logs
// and metrics, with the Admin API call, SQS client and store given.
func (h *harness) submitter(call CallFunc, q queue.API, store Store) *Submitter {
	h.t.Helper()
	s, err := New(h.cfg, Clients{AdminAPI: call, Jobs: h.api, SQS: q, State: store,
		Metrics: metrics.New(h.emf, "jobwatch-test")}, h.clock.Now, logging.New(h.logs, slog.LevelDebug))
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// storeOver is the harness's state table reached through c (a client
// that injects faults).
func (h *harness) storeOver(c state.Client) *state.Store {
	return state.New(c, h.cfg.StateTable, state.Options{Now: h.clock.Now})
}

// withTable replaces the Submitter by one whose state table is reached
// through c, calling the Admin API directly.
func (h *harness) withTable(c state.Client) {
	h.t.Helper()
	h.s = h.submitter(ClientCall(h.api), h.sqs, h.storeOver(c))
}

func (h *harness) setCallHook(f func(op *amplify.Operation, in any) error) {
	h.hookMu.Lock()
	defer h.hookMu.Unlock()
	h.callHook = f
}

func (h *harness) setAfterCall(f func(op *amplify.Operation, err error)) {
	h.hookMu.Lock()
	defer h.hookMu.Unlock()
	h.afterCall = f
}

// setFaults sets the emulator's faults.
func (h *harness) setFaults(f emulator.Faults) {
	h.t.Helper()
	if err := h.emu.SetFaults(f); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) createQueue(prefix string) string {
	h.t.Helper()
	out, err := h.sqs.CreateQueue(h.ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(h.t, prefix))})
	if err != nil {
		h.t.Fatalf("create queue: %v", err)
	}
	return aws.ToString(out.QueueUrl)
}

func (h *harness) createTable() string {
	h.t.Helper()
	_, name := testenv.Table(h.t, "state")
	return name
}

// cloneRequest builds a CloneBackend job request for env, to the
// environment named by tag (see envNamed).
func cloneRequest(id, env, tag string) contract.JobRequest {
	in, _ := json.Marshal(map[string]string{"AppId": testApp, "BackendEnvironmentName": env, "TargetEnvironmentName": envNamed(tag)})
	return contract.JobRequest{Operation: "CloneBackend", Input: in, RequestID: id}
}

// envNamed is a valid Amplify environment name (2 to 10 lowercase
// letters) for a tag: "pr" and seven letters from the tag's hash, so that
// tags stay readable in tests and names distinct.
func envNamed(tag string) string {
	h := fnv.New32a()
	h.Write([]byte(tag))
	n := h.Sum32()
	b := []byte("pr")
	for range 7 {
		b = append(b, byte('a'+n%26))
		n /= 26
	}
	return string(b)
}

func (h *harness) submit(req contract.JobRequest) Result {
	h.t.Helper()
	res, err := h.s.Submit(h.ctx, req)
	if err != nil {
		h.t.Fatalf("Submit(%s): %v", req.RequestID, err)
	}
	return res
}

// occupy starts a job on env outside jobwatch and returns its id.
func (h *harness) occupy(env string) string {
	h.t.Helper()
	out, err := h.api.CloneBackend(h.ctx, &amplify.CloneBackendInput{AppId: aws.String(testApp),
		BackendEnvironmentName: aws.String(env), TargetEnvironmentName: aws.String(env + "-copy-" + newID()[:6])})
	if err != nil {
		h.t.Fatalf("occupy %s: %v", env, err)
	}
	return aws.ToString(out.JobId)
}

// finish ends a job, freeing its environment.
func (h *harness) finish(env, jobID string) {
	h.t.Helper()
	if _, err := h.emu.Jobs().Update(testApp, env, jobID, emulator.JobUpdate{Status: "COMPLETED"}); err != nil {
		h.t.Fatalf("finish job %s: %v", jobID, err)
	}
}

// count returns how many messages a queue holds, visible or not.
func (h *harness) count(queueURL string) int {
	h.t.Helper()
	out, err := h.sqs.GetQueueAttributes(h.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		h.t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, v := range out.Attributes {
		var k int
		fmt.Sscan(v, &k)
		n += k
	}
	return n
}

// received is a message taken off a queue.
type received struct {
	id, receipt, body string
	attempt           int
}

// receive takes every message now visible in a queue (and deletes them
// when del is set).
func (h *harness) receive(queueURL string, del bool) []received {
	h.t.Helper()
	var all []received
	for {
		got := h.receiveOnce(queueURL, 0)
		if len(got) == 0 {
			return all
		}
		for _, m := range got {
			all = append(all, m)
			if del {
				h.deleteMessage(queueURL, m.receipt)
			}
		}
	}
}

// receiveWait waits up to 3 s for messages to come visible in a queue and
// takes them, without deleting them.
func (h *harness) receiveWait(queueURL string) []received {
	h.t.Helper()
	return append(h.receiveOnce(queueURL, 3), h.receive(queueURL, false)...)
}

func (h *harness) receiveOnce(queueURL string, wait int32) []received {
	h.t.Helper()
	out, err := h.sqs.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
		MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: wait, MessageAttributeNames: []string{"All"}})
	if err != nil {
		h.t.Fatalf("receive: %v", err)
	}
	var got []received
	for _, m := range out.Messages {
		r := received{id: aws.ToString(m.MessageId), receipt: aws.ToString(m.ReceiptHandle), body: aws.ToString(m.Body)}
		if a, ok := m.MessageAttributes[queue.AttemptAttribute]; ok {
			r.attempt, _ = strconv.Atoi(aws.ToString(a.StringValue))
		}
		got = append(got, r)
	}
	return got
}

func (h *harness) deleteMessage(queueURL, receipt string) {
	h.t.Helper()
	if _, err := h.sqs.DeleteMessage(h.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(receipt)}); err != nil {
		h.t.Fatalf("delete message: %v", err)
	}
}

// pump does what the event source mapping does, once: it hands the
// visible wake-ups to Wake and deletes those not reported as failures. It
// returns how many it delivered and the failed ids.
func (h *harness) pump() (delivered int, failed []string) {
	h.t.Helper()
	return h.pumpReceived(h.receive(h.cfg.WaitingQueueURL, false))
}

// pumpLater pumps once the wake-ups put off with a backoff (a second in
// the harness) are visible.
func (h *harness) pumpLater() (delivered int, failed []string) {
	h.t.Helper()
	return h.pumpReceived(h.receiveWait(h.cfg.WaitingQueueURL))
}

func (h *harness) pumpReceived(msgs []received) (delivered int, failed []string) {
	h.t.Helper()
	batch := make([]queue.Message, len(msgs))
	for i, m := range msgs {
		batch[i] = queue.Message{ID: m.id, Body: m.body, Attempt: m.attempt}
	}
	failed = h.s.Wake(h.ctx, batch)
	for _, m := range msgs {
		if !contains(failed, m.id) {
			h.deleteMessage(h.cfg.WaitingQueueURL, m.receipt)
		} else {
			// make it visible again at once, as a retry would
			_, _ = h.sqs.ChangeMessageVisibility(h.ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(h.cfg.WaitingQueueURL), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: 0})
		}
	}
	return len(msgs), failed
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tracking reads the tracking messages in the jobs queue.
func (h *harness) tracking() []contract.TrackingMessage {
	h.t.Helper()
	var out []contract.TrackingMessage
	for _, m := range h.receive(h.cfg.JobsQueueURL, true) {
		tm, err := contract.DecodeTrackingMessage([]byte(m.body))
		if err != nil {
			h.t.Fatalf("tracking message %s: %v", m.body, err)
		}
		out = append(out, tm)
	}
	return out
}

// statusChanges reads the status changes in the completions queue.
func (h *harness) statusChanges() []contract.StatusChange {
	h.t.Helper()
	var out []contract.StatusChange
	for _, m := range h.receive(h.cfg.CompletionsQueueURL, true) {
		sc, err := contract.DecodeStatusChange([]byte(m.body))
		if err != nil {
			h.t.Fatalf("status change %s: %v", m.body, err)
		}
		out = append(out, sc)
	}
	return out
}

// line returns the request ids waiting for env, in order.
func (h *harness) line(env string) []string {
	h.t.Helper()
	l, err := h.store.Line(h.ctx, testApp, env)
	if err != nil {
		h.t.Fatal(err)
	}
	ids := []string{}
	for _, e := range l.Entries {
		ids = append(ids, e.RequestID)
	}
	return ids
}

func (h *harness) record(requestID string) *state.Request {
	h.t.Helper()
	r, err := h.store.Request(h.ctx, requestID)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// jobsCreated counts the jobs the emulator started.
func (h *harness) jobsCreated() int { return h.emu.Stats().Jobs.Created }

// requestIDs lists the request ids of tracking messages.
func requestIDs(ms []contract.TrackingMessage) []string {
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.RequestID)
	}
	return ids
}

// recordingSQS records the messages sent and fails those fail picks.
type recordingSQS struct {
	queue.API
	mu   sync.Mutex
	sent []*sqs.SendMessageInput
	fail func(in *sqs.SendMessageInput) error
}

// SendMessageBatch records each entry as the SendMessageInput it stands
// for, after fail (if set) had its say on it.
func (r *recordingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	var each []*sqs.SendMessageInput
	for _, e := range in.Entries {
		m := &sqs.SendMessageInput{QueueUrl: in.QueueUrl, MessageBody: e.MessageBody, DelaySeconds: e.DelaySeconds, MessageAttributes: e.MessageAttributes}
		if fail != nil {
			if err := fail(m); err != nil {
				return nil, err
			}
		}
		each = append(each, m)
	}
	out, err := r.API.SendMessageBatch(ctx, in, optFns...)
	if err == nil {
		r.mu.Lock()
		r.sent = append(r.sent, each...)
		r.mu.Unlock()
	}
	return out, err
}

func (r *recordingSQS) setFail(f func(in *sqs.SendMessageInput) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

// to returns the messages sent to a queue.
func (r *recordingSQS) to(queueURL string) []*sqs.SendMessageInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*sqs.SendMessageInput
	for _, in := range r.sent {
		if aws.ToString(in.QueueUrl) == queueURL {
			out = append(out, in)
		}
	}
	return out
}

// errSQSDown stands for SQS failing (SendMessage after the SDK's retries).
var errSQSDown = errors.New("sqs: service unavailable (test)")

// logLines returns the log lines as JSON objects.
func logLines(t *testing.T, s *testenv.Buffer) []map[string]any {
	t.Helper()
	return testenv.JSONLines(t, s.String())
}

// asError is errors.As for a test's expectations.
func asError[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// delays lists the DelaySeconds of sent messages.
func delays(in []*sqs.SendMessageInput) []int32 {
	out := []int32{}
	for _, m := range in {
		out = append(out, m.DelaySeconds)
	}
	return out
}

// emulatorThrottle makes the emulator throttle a share of requests.
func emulatorThrottle(rate float64) emulator.Faults { return emulator.Faults{ThrottleRate: rate} }
