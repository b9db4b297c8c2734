package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// receivedEvent is an event as an SQS rule target receives it.
type receivedEvent struct {
	Version    string                `json:"version"`
	ID         string                `json:"id"`
	DetailType string                `json:"detail-type"`
	Source     string                `json:"source"`
	Account    string                `json:"account"`
	Region     string                `json:"region"`
	Resources  []string              `json:"resources"`
	Detail     contract.StatusChange `json:"detail"`
	raw        []byte
	detail     json.RawMessage
}

// TestMotoEventBus runs the Lambda handler on every events/notify batch
// with a real EventBridge client against moto, then reads what rules on
// the custom bus delivered to their SQS queues: one event per valid
// message, carrying it, matching the schema; and the README's FAILED-only
// rule gets the failed jobs only.
func TestMotoEventBus(t *testing.T) {
	ctx := testenv.Context(t)
	cfg := testenv.AWSConfig(testenv.Moto(t))
	eb := eventbridge.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)

	bus := testenv.Name(t, "jobwatch-bus")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create event bus: %v", err)
	}
	failedOnly, err := os.ReadFile(filepath.Join(schemaDir, "examples", "rule-failed-only.json"))
	if err != nil {
		t.Fatal(err)
	}
	allQueue := ruleToQueue(t, eb, sq, bus, `{"detail-type": ["Amplify Backend Job Status Change"]}`)
	failedQueue := ruleToQueue(t, eb, sq, bus, string(failedOnly))

	log, _ := newLog()
	sent := handleFixtures(t, New(log, NewEventBridge(eb, EventBridgeOptions{
		BusName: bus, Source: contract.DefaultEventSource,
		Region: testenv.Region, Account: testenv.Account, Logger: log,
	})))
	checkEvents(t, receive(t, sq, allQueue, len(sent)), sent)

	var wantFailedKeys, gotFailedKeys []string
	for key, m := range sent {
		if s, _ := contract.DecodeStatusChange([]byte(m.Body)); s.Status == contract.StatusFailed {
			wantFailedKeys = append(wantFailedKeys, key)
		}
	}
	for _, ev := range receive(t, sq, failedQueue, len(wantFailedKeys)) {
		gotFailedKeys = append(gotFailedKeys, ev.Detail.EventKey)
	}
	slices.Sort(gotFailedKeys)
	slices.Sort(wantFailedKeys)
	if len(wantFailedKeys) == 0 || !slices.Equal(gotFailedKeys, wantFailedKeys) {
		t.Errorf("FAILED-only rule delivered %v, want %v", gotFailedKeys, wantFailedKeys)
	}
}

// checkEvents checks the events a rule matching every status change
// delivered against the messages sent, by event key: one event per
// message, carrying it, from the right source, account and region, about
// the job's ARN, matching the schema.
func checkEvents(t *testing.T, got []receivedEvent, sent map[string]queue.Message) {
	t.Helper()
	if len(got) != len(sent) {
		t.Errorf("%d events arrived, want %d (one per valid message)", len(got), len(sent))
	}
	seen := map[string]bool{}
	for _, ev := range got {
		key := ev.Detail.EventKey
		m, ok := sent[key]
		if !ok || seen[key] {
			t.Errorf("unexpected or repeated event %s", ev.raw)
			continue
		}
		seen[key] = true
		assertSameJSON(t, string(ev.detail), m.Body)
		if ev.Source != contract.DefaultEventSource || ev.DetailType != contract.DetailTypeStatusChange {
			t.Errorf("%s: source %q, detail-type %q", key, ev.Source, ev.DetailType)
		}
		wantARN := contract.JobARN(testenv.Region, testenv.Account, ev.Detail.AppID, ev.Detail.BackendEnvironmentName, ev.Detail.JobID)
		if !slices.Equal(ev.Resources, []string{wantARN}) {
			t.Errorf("%s: resources %v, want [%s]", key, ev.Resources, wantARN)
		}
		if ev.Account != testenv.Account || ev.Region != testenv.Region {
			t.Errorf("%s: account %q, region %q", key, ev.Account, ev.Region)
		}
		validateEvent(t, ev.raw)
	}
}

// createQueue creates an SQS queue, returning its URL and ARN.
func createQueue(t *testing.T, sq *sqs.Client, prefix string) (url, arn string) {
	return createQueueWith(t, sq, prefix, nil)
}

// createQueueWith creates a queue with the attributes with (RedrivePolicy,
// VisibilityTimeout, …), returning its URL and ARN.
func createQueueWith(t *testing.T, sq *sqs.Client, prefix string, with map[string]string) (url, arn string) {
	t.Helper()
	q, err := sq.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(t, prefix)), Attributes: with})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	attrs, err := sq.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue ARN: %v", err)
	}
	return aws.ToString(q.QueueUrl), attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// ruleToQueue creates a rule with pattern on bus and an SQS queue as its
// target, returning the queue's URL.
func ruleToQueue(t *testing.T, eb *eventbridge.Client, sq *sqs.Client, bus, pattern string) string {
	t.Helper()
	ctx := t.Context()
	name := testenv.Name(t, "notify-rule")
	url, arn := createQueue(t, sq, "notify-target")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(name), EventBusName: aws.String(bus), EventPattern: aws.String(pattern),
	}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(arn)}},
	}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	return url
}

// receive reads the events on a queue until want arrived and the queue
// is empty, or 10 s passed.
func receive(t *testing.T, sq *sqs.Client, queueURL string, want int) []receivedEvent {
	t.Helper()
	var got []receivedEvent
	for _, m := range receiveRaw(t, sq, queueURL, want) {
		body := []byte(aws.ToString(m.Body))
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatalf("event is not JSON: %v\n%s", err, body)
		}
		// moto's default target input leaves out "account", which
		// EventBridge sends; put it back so the rest is checked as
		// received.
		if _, ok := fields["account"]; !ok {
			fields["account"], _ = json.Marshal(testenv.Account)
			body, _ = json.Marshal(fields)
		}
		var ev receivedEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatalf("event: %v\n%s", err, body)
		}
		ev.raw, ev.detail = body, fields["detail"]
		got = append(got, ev)
	}
	return got
}

// receiveRaw reads a queue until want messages arrived and it is empty,
// or 10 s passed.
func receiveRaw(t *testing.T, sq *sqs.Client, queueURL string, want int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		out, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			if len(got) >= want {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		got = append(got, out.Messages...)
	}
	return got
}
