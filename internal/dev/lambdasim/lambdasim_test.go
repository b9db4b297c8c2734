package lambdasim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newQueue(t *testing.T, c *sqs.Client, visibility string) string {
	t.Helper()
	out, err := c.CreateQueue(testenv.Context(t), &sqs.CreateQueueInput{
		QueueName:  aws.String(testenv.Name(t, "q")),
		Attributes: map[string]string{"VisibilityTimeout": visibility},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, c *sqs.Client, url string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := c.SendMessage(testenv.Context(t), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

func depth(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(testenv.Context(t), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		var v int
		fmt.Sscan(out.Attributes[k], &v)
		n += v
	}
	return n
}

// TestSQSSourceDeletesOnlySuccesses checks the partial batch response
// contract: reported messages stay on the queue, the others are deleted.
func TestSQSSourceDeletesOnlySuccesses(t *testing.T) {
	c := sqs.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)))
	url := newQueue(t, c, "60")
	send(t, c, url, "ok-1", "fail-2", "ok-3")
	var seen []string
	handler := lambda.NewHandler(func(ev events.SQSEvent) (events.SQSEventResponse, error) {
		var r events.SQSEventResponse
		for _, rec := range ev.Records {
			seen = append(seen, rec.Body)
			if rec.EventSource != "aws:sqs" || rec.Attributes["ApproximateReceiveCount"] == "" {
				t.Errorf("record lacks Lambda's fields: %+v", rec)
			}
			if strings.HasPrefix(rec.Body, "fail") {
				r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
		}
		return r, nil
	})
	src := &lambdasim.SQSSource{SQS: c, QueueURL: url, BatchSize: 10, Function: lambdasim.InProcess("fn", handler)}
	for total := 0; total < 3; {
		n, err := src.PollOnce(testenv.Context(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if len(seen) != 3 {
		t.Errorf("function saw %v", seen)
	}
	if got := depth(t, c, url); got != 1 {
		t.Errorf("%d messages left, want only the failed one", got)
	}
}

// TestSQSSourceFunctionError checks a function error leaves the whole
// batch for redelivery.
func TestSQSSourceFunctionError(t *testing.T) {
	c := sqs.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)))
	url := newQueue(t, c, "60")
	send(t, c, url, "a", "b")
	handler := lambda.NewHandler(func(ev events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, errors.New("boom")
	})
	var gotErr error
	src := &lambdasim.SQSSource{SQS: c, QueueURL: url, BatchSize: 10, Function: lambdasim.InProcess("fn", handler),
		OnBatch: func(_ int, _ []string, err error) { gotErr = err }}
	for total := 0; total < 2; {
		n, _ := src.PollOnce(testenv.Context(t), 1)
		total += n
	}
	var fe *lambdasim.FunctionError
	if !errors.As(gotErr, &fe) || fe.Message != "boom" {
		t.Errorf("OnBatch error = %v", gotErr)
	}
	if got := depth(t, c, url); got != 2 {
		t.Errorf("%d messages left, want 2", got)
	}
}

// TestAsyncSourceRetriesThenDestination checks an event whose function
// keeps failing is tried 1+Retries times, then lands in the on-failure
// destination in Lambda's record format; a good event is invoked once.
func TestAsyncSourceRetriesThenDestination(t *testing.T) {
	c := sqs.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)))
	in, dest := newQueue(t, c, "60"), newQueue(t, c, "60")
	send(t, c, in, `{"detail":{"operation":"CloneBackend"}}`, `{"detail":{"operation":"Bad"}}`)
	var mu sync.Mutex
	calls := map[string]int{}
	handler := lambda.NewHandler(func(ev map[string]any) (string, error) {
		op := ev["detail"].(map[string]any)["operation"].(string)
		mu.Lock()
		calls[op]++
		mu.Unlock()
		if op == "Bad" {
			return "", fmt.Errorf("unknown operation %q", op)
		}
		return "ok", nil
	})
	ctx, cancel := context.WithCancel(testenv.Context(t))
	a := &lambdasim.AsyncSource{SQS: c, QueueURL: in, Function: lambdasim.InProcess("submit", handler), Retries: 2, RetryDelay: 10 * time.Millisecond,
		OnFailureQueueURL: dest, FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:submit"}
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for depth(t, c, dest) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if calls["CloneBackend"] != 1 || calls["Bad"] != 3 {
		t.Errorf("calls = %v, want CloneBackend 1, Bad 3", calls)
	}
	out, err := c.ReceiveMessage(testenv.Context(t), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dest), WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("destination: %v, %v", out, err)
	}
	var record struct {
		RequestContext  struct{ Condition string }    `json:"requestContext"`
		RequestPayload  map[string]any                `json:"requestPayload"`
		ResponsePayload struct{ ErrorMessage string } `json:"responsePayload"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &record); err != nil {
		t.Fatal(err)
	}
	if record.RequestContext.Condition != "RetriesExhausted" || !strings.Contains(record.ResponsePayload.ErrorMessage, `unknown operation "Bad"`) ||
		record.RequestPayload["detail"] == nil {
		t.Errorf("destination record = %+v", record)
	}
	if got := depth(t, c, in); got != 0 {
		t.Errorf("%d events left on the rule's queue", got)
	}
}
