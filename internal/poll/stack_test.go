package poll

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/state"
)

// stack is the part of the deployed stack poll runs in, on real parts:
// the jobs queue with its dead-letter queue (maxReceiveCount 5, as
// deployed), the completions and waiting queues and the state table in
// moto, and the Admin API emulator over HTTP on a virtual clock. SQS's
// delays are virtual too (see virtualSQS): a test moves the clock by the
// delay a message asked for instead of waiting for it.
type stack struct {
	t                               *testing.T
	ctx                             context.Context
	sqs                             *sqs.Client
	jobs, dlq, completions, waiting string
	clock                           *emulator.ManualClock
	emu                             *emulator.Server
	api                             *amplify.Client
	store                           *state.Store
	virtual                         *virtualSQS
}

const (
	stackApp   = "d1abc23"
	jobsARN    = "arn:aws:sqs:us-east-1:123456789012:jobs"
	maxReceive = 5
)

// newStack starts the stack: envs environments dev0… of app d1abc23 whose
// jobs run jobDuration, the jobs queue's visibility timeout (seconds,
// real), and the emulator's faults.
func newStack(t *testing.T, envs int, jobDuration time.Duration, visibility int, faults emulator.Faults) *stack {
	t.Helper()
	s := &stack{t: t, ctx: testenv.Context(t), clock: emulator.NewManualClock(t0)}
	s.sqs = sqs.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)))
	s.virtual = &virtualSQS{next: s.sqs}
	s.dlq = s.queue("jobs-dlq", nil)
	dlqARN, err := s.sqs.GetQueueAttributes(s.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.dlq),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, dlqARN.Attributes["QueueArn"], maxReceive)
	s.jobs = s.queue("jobs", map[string]string{"RedrivePolicy": redrive, "VisibilityTimeout": strconv.Itoa(visibility)})
	s.virtual.jobs = s.jobs
	s.completions, s.waiting = s.queue("completions", nil), s.queue("waiting", nil)
	c, table := testenv.Table(t, "state")
	s.store = state.New(c, table, state.Options{Now: s.clock.Now})
	st := &emulator.State{Apps: []emulator.StateApp{{AppId: stackApp, AppName: "demo"}}}
	for i := range envs {
		st.Apps[0].Environments = append(st.Apps[0].Environments, fmt.Sprintf("dev%d", i))
	}
	s.emu, err = emulator.Start(emulator.Config{Clock: s.clock, State: st, Faults: faults, Seed: 7,
		JobDurations: emulator.FixedDurations(jobDuration, nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.emu.Close() })
	s.api = s.client()
	return s
}

// client is a client of the emulator with the SDK's standard retryer, as
// deployed, without its waits.
func (s *stack) client(optFns ...func(*amplify.Options)) *amplify.Client {
	return amplify.New(amplify.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.emu.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer:     retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Millisecond)}, optFns...)
}

func (s *stack) queue(name string, attrs map[string]string) string {
	s.t.Helper()
	q, err := s.sqs.CreateQueue(s.ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(s.t, name)), Attributes: attrs})
	if err != nil {
		s.t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl)
}

// poller is poll as deployed on the stack, tracking jobs in the state
// table, with the jobwatch policy.
func (s *stack) poller(mod func(*Config)) *Poller {
	policy, _ := schedule.New("jobwatch", 1)
	cfg := Config{
		JobsQueueURL: s.jobs, CompletionsQueueURL: s.completions, WaitingQueueURL: s.waiting,
		NotFoundGrace: 2 * time.Minute, NotFoundRetry: 5 * time.Second, StillRunningAfter: 2 * time.Hour,
		Policy: policy, Tracked: s.store, Now: s.clock.Now, AppIDs: []string{stackApp},
	}
	api := s.api
	if mod != nil {
		mod(&cfg)
	}
	if cfg.Metrics != nil {
		api = s.client(amplify.ObserveAttempts(cfg.Metrics.AdminAPIAttempt))
	}
	return New(cfg, api, s.virtual)
}

// startJob starts a CloneBackend job on environment env and records it
// as submit does, returning its first tracking message.
func (s *stack) startJob(env string) contract.TrackingMessage {
	s.t.Helper()
	out, err := s.api.CloneBackend(s.ctx, &amplify.CloneBackendInput{AppId: aws.String(stackApp),
		BackendEnvironmentName: aws.String(env), TargetEnvironmentName: aws.String("pr-" + env)})
	if err != nil {
		s.t.Fatal(err)
	}
	now := s.clock.Now()
	m := contract.TrackingMessage{Version: contract.TrackingVersion, AppID: stackApp, BackendEnvironmentName: env,
		JobID: aws.ToString(out.JobId), Operation: "CloneBackend", SubmittedAt: now, Deadline: now.Add(6 * time.Hour)}
	if _, err := s.store.TrackJob(s.ctx, m, "submit"); err != nil {
		s.t.Fatal(err)
	}
	return m
}

// send puts tracking messages on the jobs queue, each copies times.
func (s *stack) send(copies int, msgs ...contract.TrackingMessage) {
	s.t.Helper()
	var out []queue.Outgoing
	for _, m := range msgs {
		o, _ := queue.JSON(m, 10*time.Second)
		for range copies {
			out = append(out, o)
		}
	}
	if _, errs := queue.NewSender(s.virtual).Send(s.ctx, s.jobs, out); errorsIn(errs) != nil {
		s.t.Fatal(errs)
	}
	s.virtual.take()
}

func errorsIn(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// receive takes up to max visible messages of url, with their receive
// counts and message attributes, waiting up to a second for the first.
func (s *stack) receive(url string, max int32) []sqstypes.Message {
	return s.receiveWaiting(url, max, 1)
}

func (s *stack) receiveWaiting(url string, max, wait int32) []sqstypes.Message {
	s.t.Helper()
	out, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: max,
		WaitTimeSeconds: wait, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Messages
}

// invoke is the jobs queue's event source mapping: it hands msgs to the
// poller and deletes those the answer does not name.
func (s *stack) invoke(ctx context.Context, p *Poller, msgs []sqstypes.Message) events.SQSEventResponse {
	s.t.Helper()
	resp, err := p.HandleSQS(ctx, eventOf(msgs))
	if err != nil {
		s.t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	for _, m := range msgs {
		if !slices.Contains(failed, aws.ToString(m.MessageId)) {
			s.remove(s.jobs, m)
		}
	}
	return resp
}

// eventOf is the event Lambda hands poll for msgs of the jobs queue.
func eventOf(msgs []sqstypes.Message) events.SQSEvent { return lambdasim.EventOf(msgs, jobsARN) }

func (s *stack) remove(url string, m sqstypes.Message) {
	s.t.Helper()
	if _, err := s.sqs.DeleteMessage(s.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		s.t.Fatal(err)
	}
}

// drain takes every message visible on url now (deleting them) and
// returns their bodies.
func (s *stack) drain(url string) []string {
	s.t.Helper()
	var bodies []string
	for {
		msgs := s.receiveWaiting(url, 10, 0)
		if len(msgs) == 0 {
			return bodies
		}
		for _, m := range msgs {
			bodies = append(bodies, aws.ToString(m.Body))
			s.remove(url, m)
		}
	}
}

// changes takes the status changes on the completions queue.
func (s *stack) changes() []contract.StatusChange {
	s.t.Helper()
	var out []contract.StatusChange
	for _, b := range s.drain(s.completions) {
		c, err := contract.DecodeStatusChange([]byte(b))
		if err != nil {
			s.t.Fatalf("poll sent an invalid status change: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// depth is how many messages url holds, visible or not.
func (s *stack) depth(url string) int {
	s.t.Helper()
	out, err := s.sqs.GetQueueAttributes(s.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}

// virtualSQS sends through moto without SQS's delays, keeping the delay
// each message for the jobs queue asked for, so that the test moves the
// virtual clock by it instead of waiting.
type virtualSQS struct {
	next   queue.API
	jobs   string
	mu     sync.Mutex
	delays []time.Duration
}

func (v *virtualSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	cp := *in
	cp.Entries = slices.Clone(in.Entries)
	v.mu.Lock()
	for i := range cp.Entries {
		if aws.ToString(in.QueueUrl) == v.jobs {
			v.delays = append(v.delays, time.Duration(cp.Entries[i].DelaySeconds)*time.Second)
		}
		cp.Entries[i].DelaySeconds = 0
	}
	v.mu.Unlock()
	return v.next.SendMessageBatch(ctx, &cp, opts...)
}

// take returns the delays asked for since the last take.
func (v *virtualSQS) take() []time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.delays
	v.delays = nil
	return d
}

// decode reads a tracking message's body.
func decode(t *testing.T, body string) contract.TrackingMessage {
	t.Helper()
	var m contract.TrackingMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
