// Package queue is how jobwatch's functions use SQS: the message a
// handler takes from an event source, the partial batch response it
// answers with, and one sender for every message a function sends
// (SendMessageBatch, ten at a time, failed entries reported per message),
// and what becomes of a message whose work failed: a delayed copy after a
// transient failure (Transient, Later), the dead-letter queue at once for
// poison (Parked).
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Message is one message of an SQS event: its id (what a partial batch
// response names), body, and how many times its work was put off before
// (the attempt attribute of a copy sent again with a delay; 0 for a first
// message).
type Message struct {
	ID      string
	Body    string
	Attempt int
}

// AttemptAttribute is the message attribute that counts the copies of a
// message sent again after a transient failure.
const AttemptAttribute = "jobwatch.attempt"

// Messages returns the messages of an SQS event, in order.
func Messages(ev events.SQSEvent) []Message {
	out := make([]Message, len(ev.Records))
	for i, r := range ev.Records {
		out[i] = Message{ID: r.MessageId, Body: r.Body}
		if a, ok := r.MessageAttributes[AttemptAttribute]; ok && a.StringValue != nil {
			out[i].Attempt, _ = strconv.Atoi(*a.StringValue)
		}
	}
	return out
}

// Backoff is how long to put work off after its attempt-th transient
// failure (attempt ≥ 1): exponential from base, capped at limit, with full
// jitter so that the copies of many messages do not come back together.
// rnd draws from [0, 1).
func Backoff(attempt int, base, limit time.Duration, rnd func() float64) time.Duration {
	d := limit
	if attempt < 32 {
		d = min(limit, base<<max(0, attempt-1))
	}
	return time.Duration(float64(d)*rnd()) + time.Second
}

// Response is the partial batch response that leaves the failed messages
// on the queue (ReportBatchItemFailures); Lambda deletes the others.
func Response(failed []string) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, id := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return resp
}

// API is the part of the SQS client a Sender uses; *sqs.Client is one.
type API interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// MaxDelay is the longest DelaySeconds SQS takes; longer waits are
// chained by the receiver (a tracking message's NotBefore).
const MaxDelay = 900 * time.Second

// Outgoing is a message to send: its body, how long SQS keeps it
// invisible (rounded up to whole seconds, at most MaxDelay), for a copy
// sent again after a transient failure its attempt, and for a message
// parked in a dead-letter queue the problem that put it there.
type Outgoing struct {
	Body    string
	Delay   time.Duration
	Attempt int
	Problem string
}

// JSON is an Outgoing with v as its JSON body.
func JSON(v any, delay time.Duration) (Outgoing, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Outgoing{}, fmt.Errorf("encode message: %w", err)
	}
	return Outgoing{Body: string(b), Delay: delay}, nil
}

// Sender sends messages to queues.
type Sender struct{ api API }

// NewSender returns a Sender over api.
func NewSender(api API) *Sender { return &Sender{api: api} }

// EntryError is a message the queue did not take.
type EntryError struct {
	QueueURL, Code, Message string
	SenderFault             bool
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("queue %s did not take the message: %s %s", e.QueueURL, e.Code, e.Message)
}

// Send sends msgs to queueURL, ten per SendMessageBatch call. ids[i] is
// the message id SQS gave msgs[i] and errs[i] why it was not sent (nil
// when it was): a failed call fails its ten, a failed entry only itself.
func (s *Sender) Send(ctx context.Context, queueURL string, msgs []Outgoing) (ids []string, errs []error) {
	ids, errs = make([]string, len(msgs)), make([]error, len(msgs))
	for start := 0; start < len(msgs); start += 10 {
		chunk := msgs[start:min(start+10, len(msgs))]
		entries := make([]types.SendMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(start + i)), MessageBody: aws.String(m.Body),
				DelaySeconds: delaySeconds(m.Delay), MessageAttributes: m.attributes()}
		}
		out, err := s.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			for i := range chunk {
				errs[start+i] = fmt.Errorf("send to %s: %w", queueURL, err)
			}
			continue
		}
		for _, ok := range out.Successful {
			if i, err := strconv.Atoi(aws.ToString(ok.Id)); err == nil && i < len(ids) {
				ids[i] = aws.ToString(ok.MessageId)
			}
		}
		for _, f := range out.Failed {
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i < len(errs) {
				errs[i] = &EntryError{QueueURL: queueURL, Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
			}
		}
		for i := range chunk {
			if ids[start+i] == "" && errs[start+i] == nil {
				errs[start+i] = errors.New("send to " + queueURL + ": the queue answered nothing for the message")
			}
		}
	}
	return ids, errs
}

// SendJSON sends one message with v as its JSON body and returns its id.
func (s *Sender) SendJSON(ctx context.Context, queueURL string, v any, delay time.Duration) (string, error) {
	m, err := JSON(v, delay)
	if err != nil {
		return "", err
	}
	ids, errs := s.Send(ctx, queueURL, []Outgoing{m})
	return ids[0], errs[0]
}

// attributes are the message attributes of m: its attempt and problem,
// when it has them.
func (m Outgoing) attributes() map[string]types.MessageAttributeValue {
	if m.Attempt <= 0 && m.Problem == "" {
		return nil
	}
	attrs := map[string]types.MessageAttributeValue{}
	if m.Attempt > 0 {
		attrs[AttemptAttribute] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(m.Attempt))}
	}
	if m.Problem != "" {
		attrs[ProblemAttribute] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.Problem)}
	}
	return attrs
}

func delaySeconds(d time.Duration) int32 {
	return int32(min(max(0, math.Ceil(d.Seconds())), MaxDelay.Seconds()))
}
