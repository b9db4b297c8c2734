// Package lambdasim plays Lambda's part for the template's event sources
// on one machine: it polls SQS queues the way an event source mapping does
// (batches, partial batch responses, deleting only what succeeded) and
// invokes functions asynchronously with retries and an on-failure
// destination, as Lambda does for EventBridge rules. Functions are
// Invokers: a handler in this process or a bootstrap under the Runtime
// Interface Emulator.
package lambdasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Invoker invokes a function with a JSON payload and returns its JSON
// response. A function error is returned as a *FunctionError.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// FunctionError is the error a function returned (Lambda's function error).
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// handlerInvoker is the part of aws-lambda-go's lambda.Handler used here.
type handlerInvoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// InProcess invokes an aws-lambda-go handler (from lambda.NewHandler) in
// this process, with a Lambda context carrying a fresh request id, and
// turns its errors into function errors as the Lambda runtime would.
func InProcess(name string, h handlerInvoker) Invoker { return &inProcess{name: name, h: h} }

type inProcess struct {
	name string
	h    handlerInvoker
	seq  sync.Mutex
	n    int
}

func (p *inProcess) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	p.seq.Lock()
	p.n++
	id := fmt.Sprintf("%s-%06d", p.name, p.n)
	p.seq.Unlock()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       id,
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:" + p.name,
	})
	out, err := p.h.Invoke(ctx, payload)
	if err != nil {
		var fe *FunctionError
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, &FunctionError{Type: fmt.Sprintf("%T", err), Message: err.Error()}
	}
	return out, nil
}

// SQSAPI is the part of the SQS client an event source uses.
type SQSAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSSource is an SQS event source mapping with ReportBatchItemFailures.
type SQSSource struct {
	SQS      SQSAPI
	QueueURL string
	QueueARN string
	// BatchSize is the most messages per invocation (1-10).
	BatchSize int
	// MaxConcurrency is how many invocations may run at once (the
	// mapping's ScalingConfig.MaximumConcurrency).
	MaxConcurrency int
	Function       Invoker
	Logger         *slog.Logger
	// OnBatch, when set, is told about every invocation: how many records,
	// which failed and the invocation error if any.
	OnBatch func(records int, failed []string, err error)
}

// Run polls the queue until ctx ends.
func (s *SQSSource) Run(ctx context.Context) error {
	workers := max(s.MaxConcurrency, 1)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := s.PollOnce(ctx, 1); err != nil && ctx.Err() == nil {
					s.logger().Warn("event source poll failed", "queue", s.QueueURL, "error", err.Error())
					Sleep(ctx, time.Second)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

func (s *SQSSource) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// PollOnce receives one batch (waiting up to waitSeconds for it), invokes
// the function and deletes the messages it did not report failed. It
// returns how many messages the batch had.
func (s *SQSSource) PollOnce(ctx context.Context, waitSeconds int32) (int, error) {
	out, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(s.QueueURL),
		MaxNumberOfMessages:         int32(min(max(s.BatchSize, 1), 10)),
		WaitTimeSeconds:             waitSeconds,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return 0, fmt.Errorf("receive from %s: %w", s.QueueURL, err)
	}
	if len(out.Messages) == 0 {
		return 0, nil
	}
	payload, _ := json.Marshal(EventOf(out.Messages, s.QueueARN)) // plain data: cannot fail
	resp, err := s.Function.Invoke(ctx, payload)
	if err != nil {
		// The whole batch failed: every message returns after its
		// visibility timeout, as with Lambda.
		s.logger().Warn("function failed on a batch; its messages will be redelivered", "queue", s.QueueURL, "error", err.Error())
		if s.OnBatch != nil {
			s.OnBatch(len(out.Messages), nil, err)
		}
		return len(out.Messages), nil
	}
	failed := map[string]bool{}
	var r events.SQSEventResponse
	if len(resp) > 0 && string(resp) != "null" {
		if err := json.Unmarshal(resp, &r); err != nil {
			s.logger().Warn("function returned no batch response; treating the batch as failed", "error", err.Error())
			return len(out.Messages), nil
		}
	}
	var failedIDs []string
	for _, f := range r.BatchItemFailures {
		failed[f.ItemIdentifier] = true
		failedIDs = append(failedIDs, f.ItemIdentifier)
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) > 0 {
		if _, err := s.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.QueueURL), Entries: entries}); err != nil {
			return len(out.Messages), fmt.Errorf("delete from %s: %w", s.QueueURL, err)
		}
	}
	if s.OnBatch != nil {
		s.OnBatch(len(out.Messages), failedIDs, nil)
	}
	return len(out.Messages), nil
}

// EventOf is the SQS event Lambda passes a function for received messages
// of the queue queueARN.
func EventOf(msgs []sqstypes.Message, queueARN string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = toRecord(m, queueARN)
	}
	return ev
}

// toRecord converts a received message into the record Lambda passes.
func toRecord(m sqstypes.Message, queueARN string) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:         aws.ToString(m.MessageId),
		ReceiptHandle:     aws.ToString(m.ReceiptHandle),
		Body:              aws.ToString(m.Body),
		Md5OfBody:         aws.ToString(m.MD5OfBody),
		Attributes:        map[string]string{},
		MessageAttributes: map[string]events.SQSMessageAttribute{},
		EventSource:       "aws:sqs",
		EventSourceARN:    queueARN,
		AWSRegion:         "us-east-1",
	}
	for k, v := range m.Attributes {
		rec.Attributes[k] = v
	}
	for k, v := range m.MessageAttributes {
		rec.MessageAttributes[k] = events.SQSMessageAttribute{
			StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType),
		}
	}
	return rec
}

// AsyncSource plays an EventBridge rule whose target is a function: the
// rule delivers events to QueueURL (a stand-in for Lambda's internal
// queue), and each is invoked asynchronously; a function error is retried
// up to Retries times, then the event goes to the on-failure destination
// in Lambda's destination record format.
type AsyncSource struct {
	SQS      SQSAPI
	QueueURL string
	Function Invoker
	// Retries after the first attempt (Lambda's MaximumRetryAttempts).
	Retries int
	// RetryDelay is the wait between attempts (Lambda waits about a
	// minute, then two; locally shorter).
	RetryDelay time.Duration
	// OnFailureQueueURL receives events that failed every attempt.
	OnFailureQueueURL string
	FunctionARN       string
	Logger            *slog.Logger
	// OnInvoke, when set, is told the outcome of every event.
	OnInvoke func(payload, response []byte, err error)
}

// Run polls until ctx ends.
func (a *AsyncSource) Run(ctx context.Context) error {
	src := &SQSSource{SQS: a.SQS, QueueURL: a.QueueURL, BatchSize: 10, Logger: a.Logger, Function: invokerFunc(a.invokeEach)}
	for ctx.Err() == nil {
		if _, err := src.PollOnce(ctx, 1); err != nil && ctx.Err() == nil {
			src.logger().Warn("rule target poll failed", "error", err.Error())
			Sleep(ctx, time.Second)
		}
	}
	return nil
}

type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// invokeEach receives a batch of delivered events and invokes the function
// once per event, with retries; an event leaves the stand-in queue only
// once it succeeded or was sent to the on-failure destination.
func (a *AsyncSource) invokeEach(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	resp := events.SQSEventResponse{}
	for _, rec := range ev.Records {
		body := []byte(rec.Body)
		var out []byte
		var err error
		for attempt := 0; attempt <= a.Retries; attempt++ {
			if attempt > 0 {
				Sleep(ctx, a.RetryDelay)
			}
			out, err = a.Function.Invoke(ctx, body)
			var fe *FunctionError
			if err == nil || !errors.As(err, &fe) {
				break
			}
		}
		if a.OnInvoke != nil {
			a.OnInvoke(body, out, err)
		}
		var fe *FunctionError
		switch {
		case err == nil:
		case errors.As(err, &fe) && a.OnFailureQueueURL != "":
			if derr := a.sendToDestination(ctx, body, fe); derr != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
		default:
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return json.Marshal(resp)
}

// sendToDestination writes Lambda's on-failure destination record.
func (a *AsyncSource) sendToDestination(ctx context.Context, event []byte, fe *FunctionError) error {
	record := map[string]any{
		"version":   "1.0",
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"requestContext": map[string]any{
			"functionArn": a.FunctionARN, "condition": "RetriesExhausted", "approximateInvokeCount": a.Retries + 1,
		},
		"requestPayload":  json.RawMessage(event),
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": fe,
	}
	b, err := json.Marshal(record)
	if err != nil {
		return err
	}
	_, err = a.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(a.OnFailureQueueURL), MessageBody: aws.String(string(b))})
	return err
}

// Sleep waits for d or until ctx ends, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
