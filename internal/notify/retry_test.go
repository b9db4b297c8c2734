package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// completions is notify deployed on real parts: the completions queue
// with its dead-letter queue (maxReceiveCount 5, as deployed; visibility
// 1 s, so that a message left for redelivery comes back at once), the bus
// in moto with a rule to a queue, the claims in a moto table, and Slack's
// stand-in; the notifier built as main builds it, its metrics written to
// stdout.
type completions struct {
	t                       *testing.T
	sq                      *sqs.Client
	queue, dlq, busQueue    string
	slack                   *slacktest.Server
	n                       *Notifier
	stdout                  *testenv.Buffer
	invocations, maxReceive int
}

func newCompletions(t *testing.T) *completions {
	t.Helper()
	cfg := testenv.AWSConfig(testenv.Moto(t))
	c := &completions{t: t, sq: sqs.NewFromConfig(cfg), slack: slacktest.NewServer(), stdout: &testenv.Buffer{}}
	t.Cleanup(c.slack.Close)
	var dlqARN string
	c.dlq, dlqARN = createQueue(t, c.sq, "completions-dlq")
	c.queue, _ = createQueueWith(t, c.sq, "completions", map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"5"}`, dlqARN)})
	eb := eventbridge.NewFromConfig(cfg)
	bus := testenv.Name(t, "jobwatch-bus")
	if _, err := eb.CreateEventBus(t.Context(), &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	c.busQueue = ruleToQueue(t, eb, c.sq, bus, `{"detail-type": ["Amplify Backend Job Status Change"]}`)
	u, err := ParseWebhookURL(c.slack.URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	ddb, table := testenv.Table(t, "claims")
	claims := state.New(ddb, table, state.Options{})
	log, _ := newLog()
	rec := metrics.New(c.stdout, "jobwatch-test")
	once := func(s Sink) Sink { return Deduplicate(Counted(s, rec), claims, IdempotencyOptions{}) }
	c.n = NewWithOptions(log, Options{SQS: c.sq, QueueURL: c.queue, DeadLetterURL: c.dlq, Retry: queue.Retry{Limit: time.Millisecond}, Metrics: rec},
		once(NewEventBridge(eb, EventBridgeOptions{BusName: bus, Source: contract.DefaultEventSource, Region: testenv.Region,
			Account: testenv.Account, Logger: log, Metrics: rec})),
		Only(DefaultSlackStatuses, once(NewSlack(fixedWebhook{url: u}, SlackOptions{Interval: 10 * time.Millisecond, Logger: log}))))
	return c
}

// send puts status changes, and raw bodies, on the completions queue.
func (c *completions) send(changes []contract.StatusChange, raw ...string) {
	c.t.Helper()
	var out []queue.Outgoing
	for _, ch := range changes {
		o, _ := queue.JSON(ch, 0)
		out = append(out, o)
	}
	for _, b := range raw {
		out = append(out, queue.Outgoing{Body: b})
	}
	if _, errs := queue.NewSender(c.sq).Send(c.t.Context(), c.queue, out); slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		c.t.Fatal(errs)
	}
}

// run is the completions queue's event source mapping: it hands each
// batch to the handler and deletes what the answer does not name, until
// done says so or the queue stays empty for a few seconds.
func (c *completions) run(done func() bool) {
	c.t.Helper()
	for idle := 0; idle < 3 && !done(); {
		msgs := receiveWaiting(c.t, c.sq, c.queue, 1)
		if len(msgs) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, m := range msgs {
			var n int
			fmt.Sscan(m.Attributes["ApproximateReceiveCount"], &n)
			c.maxReceive = max(c.maxReceive, n)
		}
		ctx, cancel := context.WithTimeout(c.t.Context(), 20*time.Second)
		resp, err := c.n.HandleSQS(ctx, lambdasim.EventOf(msgs, "arn:aws:sqs:us-east-1:123456789012:completions"))
		cancel()
		if err != nil {
			c.t.Fatal(err)
		}
		c.invocations++
		for _, m := range msgs {
			if !slices.ContainsFunc(resp.BatchItemFailures, func(f events.SQSBatchItemFailure) bool { return f.ItemIdentifier == aws.ToString(m.MessageId) }) {
				if _, err := c.sq.DeleteMessage(c.t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(c.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
					c.t.Fatal(err)
				}
			}
		}
	}
}

// receiveWaiting takes the visible messages of url, with their receive
// counts and attributes, waiting up to wait seconds for the first.
func receiveWaiting(t *testing.T, sq *sqs.Client, url string, wait int32) []sqstypes.Message {
	t.Helper()
	out, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		WaitTimeSeconds: wait, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// ended is a job's end as poll sends it, 30 s after the service ended it.
func ended(n int, status string) contract.StatusChange {
	c := change(n, status)
	c.CreateTime, c.UpdateTime = "2026-03-02T10:00:00.000Z", "2026-03-02T10:04:30.000Z"
	return c
}

// TestSlackOutageCostsTime has Slack answer 503 for fifteen posts (five
// invocations' worth, with the sink's three tries each): the completion
// message keeps coming back as fresh copies, each received once, nothing
// reaches the dead-letter queue (maxReceiveCount 5), the event goes on the
// bus once, and Slack gets the message once it is back.
func TestSlackOutageCostsTime(t *testing.T) {
	c := newCompletions(t)
	c.slack.Fail(15, 503, "")
	c.send([]contract.StatusChange{ended(1, contract.StatusCompleted)})
	c.run(func() bool { return len(c.slack.Messages()) > 0 })
	if len(c.slack.Messages()) != 1 || c.invocations != 6 || c.maxReceive != 1 {
		t.Errorf("Slack took %d messages in %d invocations, a message received up to %d times; want 1 in 6, each received once",
			len(c.slack.Messages()), c.invocations, c.maxReceive)
	}
	if parked := receiveWaiting(t, c.sq, c.dlq, 0); len(parked) != 0 {
		t.Errorf("%d messages in the dead-letter queue; want none", len(parked))
	}
	if events := receive(t, c.sq, c.busQueue, 1); len(events) != 1 {
		t.Errorf("%d events on the bus, want 1", len(events))
	}
	checkNotifyMetrics(t, c.stdout.String(), map[string]float64{
		"JobsEnded Operation=CloneBackend,Status=COMPLETED":          1,
		"JobDurationSeconds Operation=CloneBackend,Status=COMPLETED": 300,
		"DetectionLagSeconds Operation=CloneBackend":                 30,
		"Notifications Sink=eventbridge":                             1,
		"Notifications Sink=slack":                                   1,
		"NotificationsFailed Sink=slack":                             5,
		"Backoffs Function=notify,Reason=ServerError":                5,
	})
}

// TestPoisonParkedAtOnce sends a change to a Slack webhook that is gone
// (404 no_service) and a message that does not decode: both go to the
// dead-letter queue at once, each with its problem named, and the batch
// answers no failure; the event went on the bus. Redriven once Slack is
// fixed, the change reaches Slack and not the bus again.
func TestPoisonParkedAtOnce(t *testing.T) {
	c := newCompletions(t)
	c.slack.Fail(1, 404, "no_service")
	c.send([]contract.StatusChange{ended(2, contract.StatusFailed)}, `{"version":1,"appId":"d1abc23"}`)
	c.run(func() bool { return c.invocations > 0 })
	parked := receiveWaiting(t, c.sq, c.dlq, 1)
	for len(parked) < 2 {
		more := receiveWaiting(t, c.sq, c.dlq, 1)
		if len(more) == 0 {
			t.Fatalf("%d messages in the dead-letter queue, want 2", len(parked))
		}
		parked = append(parked, more...)
	}
	problems := map[string]string{}
	for _, m := range parked {
		problems[aws.ToString(m.Body)] = aws.ToString(m.MessageAttributes[queue.ProblemAttribute].StringValue)
	}
	body, _ := queue.JSON(ended(2, contract.StatusFailed), 0)
	if p := problems[body.Body]; !strings.Contains(p, "slack") || !strings.Contains(p, "404 no_service") || strings.Contains(p, c.slack.Token()) {
		t.Errorf("the refused change's problem is %q; want Slack's answer named, the webhook not", p)
	}
	if p := problems[`{"version":1,"appId":"d1abc23"}`]; !strings.Contains(p, `field "backendEnvironmentName" is required`) {
		t.Errorf("the malformed message's problem is %q; want the field named", p)
	}
	if c.maxReceive != 1 {
		t.Errorf("a message was received %d times before it was parked; want once", c.maxReceive)
	}
	// The redrive, once the webhook is fixed.
	c.send([]contract.StatusChange{ended(2, contract.StatusFailed)})
	c.run(func() bool { return len(c.slack.Messages()) > 0 })
	if events := receive(t, c.sq, c.busQueue, 1); len(events) != 1 || len(c.slack.Messages()) != 1 {
		t.Errorf("%d events on the bus, %d Slack messages; want one each", len(events), len(c.slack.Messages()))
	}
}

// checkNotifyMetrics decodes the EMF lines notify printed and checks
// every metric named in want is there with its total, as a number in
// its unit (Count, Seconds for the durations), under its dimensions.
func checkNotifyMetrics(t *testing.T, stdout string, want map[string]float64) {
	t.Helper()
	records, err := metrics.ParseEMF([]byte(stdout))
	if err != nil {
		t.Fatalf("notify printed invalid EMF: %v\n%s", err, stdout)
	}
	for _, r := range records {
		for name := range r.Values {
			if r.Namespace != "jobwatch-test" || r.Units[name] != metrics.Names[name].Unit {
				t.Errorf("%s: namespace %q, unit %q", name, r.Namespace, r.Units[name])
			}
		}
	}
	got := metrics.Totals(records)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics printed:\n %v\nwant\n %v", got, want)
	}
}

// sentTo records what is sent, by queue.
type sentTo struct {
	mu   sync.Mutex
	sent map[string][]sqstypes.SendMessageBatchRequestEntry
}

func (s *sentTo) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		s.sent[aws.ToString(in.QueueUrl)] = append(s.sent[aws.ToString(in.QueueUrl)], e)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

// TestSettle checks which sink failures put a message off (a delayed
// copy, its cause counted) and which park it (the dead-letter queue, the
// sink and its answer named), with the errors the sinks return.
func TestSettle(t *testing.T) {
	tests := map[string]struct {
		errs      []error // one per sink
		wantCopy  string  // the cause, "" when parked
		wantInDLQ string
	}{
		"EventBridge throttled an entry":   {errs: []error{&EntryError{Code: "ThrottlingException"}}, wantCopy: queue.CauseThrottled},
		"EventBridge refused an entry":     {errs: []error{&EntryError{Code: "InvalidArgument", SenderFault: true}}, wantInDLQ: "a: InvalidArgument"},
		"a change too big for a sink":      {errs: []error{refusal{errors.New("event is 300000 bytes")}}, wantInDLQ: "a: event is 300000 bytes"},
		"a claim another invocation holds": {errs: []error{fmt.Errorf("claim: %w", ErrInProgress)}, wantCopy: queue.CauseOther},
		"Slack rate-limited":               {errs: []error{nil, &SlackError{StatusCode: 429}}, wantCopy: queue.CauseThrottled},
		"Slack down":                       {errs: []error{nil, &SlackError{StatusCode: 503}}, wantCopy: queue.CauseServerError},
		"Slack channel archived":           {errs: []error{nil, &SlackError{StatusCode: 410, Code: "channel_is_archived"}}, wantInDLQ: "b: Slack answered 410 channel_is_archived"},
		"the invocation's deadline":        {errs: []error{context.DeadlineExceeded}, wantCopy: queue.CauseTimeout},
		"the webhook URL stored wrong":     {errs: []error{nil, refusal{fmt.Errorf("the value of ssm:/x: %w", ErrWebhookRefused)}}, wantInDLQ: "b: the value of ssm:/x"},
		"one sink down, another refusing":  {errs: []error{&SlackError{StatusCode: 503}, &EntryError{Code: "InvalidParameter", SenderFault: true}}, wantInDLQ: "b: InvalidParameter"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q := &sentTo{sent: map[string][]sqstypes.SendMessageBatchRequestEntry{}}
			var stdout testenv.Buffer
			var sinks []Sink
			for i, err := range tc.errs {
				sinks = append(sinks, sinkFunc{string(rune('a' + i)), func(ch []Change) []error { return []error{err} }})
			}
			log, _ := newLog()
			rec := metrics.New(&stdout, "")
			n := NewWithOptions(log, Options{SQS: q, QueueURL: "completions", DeadLetterURL: "dlq", Metrics: rec}, sinks...)
			if failed := n.Notify(t.Context(), messages(t, 1)); len(failed) != 0 || rec.Flush() != nil {
				t.Errorf("failed %v; want the message settled", failed)
			}
			copies, parked := q.sent["completions"], q.sent["dlq"]
			switch {
			case tc.wantCopy != "" && (len(copies) != 1 || len(parked) != 0 || !strings.Contains(stdout.String(), `"Reason":"`+tc.wantCopy+`"`)):
				t.Errorf("copies %d, parked %d, metrics %s; want a copy, counted under %s", len(copies), len(parked), stdout.String(), tc.wantCopy)
			case tc.wantInDLQ != "" && (len(parked) != 1 || len(copies) != 0 ||
				!strings.HasPrefix(aws.ToString(parked[0].MessageAttributes[queue.ProblemAttribute].StringValue), tc.wantInDLQ)):
				t.Errorf("copies %d, parked %+v; want it parked with the problem %q", len(copies), parked, tc.wantInDLQ)
			}
		})
	}
}
