package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/queue"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSendAndReceive sends 23 messages through moto in three batches, some
// delayed and some copies of earlier attempts, and reads them back as an
// event source hands them to a function: every one arrives with its body
// and attempt, each with the id Send returned.
func TestSendAndReceive(t *testing.T) {
	c := sqs.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)))
	ctx := testenv.Context(t)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(t, "queue"))})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(q.QueueUrl)
	var msgs []queue.Outgoing
	for i := range 23 {
		msgs = append(msgs, queue.Outgoing{Body: strings.Repeat("x", i+1), Attempt: i % 3, Delay: time.Duration(i%2) * 500 * time.Millisecond})
	}
	ids, errs := queue.NewSender(c).Send(ctx, url, msgs)
	want := map[string]queue.Outgoing{}
	for i, err := range errs {
		if err != nil || ids[i] == "" {
			t.Fatalf("message %d: id %q, %v", i, ids[i], err)
		}
		want[ids[i]] = msgs[i]
	}
	got := map[string]queue.Message{}
	for end := time.Now().Add(20 * time.Second); len(got) < len(msgs) && time.Now().Before(end); {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range queue.Messages(lambdasim.EventOf(out.Messages, "arn:aws:sqs:us-east-1:123456789012:q")) {
			got[m.ID] = m
		}
	}
	for id, w := range want {
		if m := got[id]; m.Body != w.Body || m.Attempt != w.Attempt {
			t.Errorf("message %s = %+v; want body of %d and attempt %d", id, m, len(w.Body), w.Attempt)
		}
	}
}

// TestSendReportsEntries checks a failed entry fails only itself, and a
// failed call its batch of ten.
func TestSendReportsEntries(t *testing.T) {
	api := &refusing{refuse: "bad"}
	msgs := []queue.Outgoing{{Body: "ok"}, {Body: "bad"}, {Body: "ok"}}
	_, errs := queue.NewSender(api).Send(context.Background(), "q", msgs)
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Errorf("errors = %v; want only the second", errs)
	}
	api.down = true
	if _, errs := queue.NewSender(api).Send(context.Background(), "q", msgs); errs[0] == nil || errs[2] == nil {
		t.Errorf("errors = %v; want every message of a failed call", errs)
	}
}

type refusing struct {
	refuse string
	down   bool
}

func (r *refusing) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if r.down {
		return nil, context.DeadlineExceeded
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if aws.ToString(e.MessageBody) == r.refuse {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
		} else {
			out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
		}
	}
	return out, nil
}

// TestBackoff checks the delays grow, stay under the cap, and spread.
func TestBackoff(t *testing.T) {
	one := func() float64 { return 0.999999 }
	for attempt, want := range map[int]time.Duration{1: 6 * time.Second, 2: 11 * time.Second, 4: 41 * time.Second, 9: 301 * time.Second, 100: 301 * time.Second} {
		if got := queue.Backoff(attempt, 5*time.Second, 5*time.Minute, one).Round(time.Second); got != want {
			t.Errorf("Backoff(%d) at most %v; want %v", attempt, got, want)
		}
	}
	if got := queue.Backoff(3, 5*time.Second, 5*time.Minute, func() float64 { return 0 }); got != time.Second {
		t.Errorf("Backoff with no jitter drawn = %v; want the 1 s floor", got)
	}
}
