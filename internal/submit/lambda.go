package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// HandleLambda is the function's handler (for lambda.Start). It accepts
//
//   - an SQS event from the waiting queue (Records with eventSource
//     aws:sqs): the wake-ups are handled and an events.SQSEventResponse
//     lists the messages to deliver again (ReportBatchItemFailures);
//   - an EventBridge event with detail-type "Amplify Backend Job
//     Requested": its detail is the job request, its id the request id
//     when the detail has none;
//   - a job request itself (direct invocation): the request id defaults
//     to the Lambda request id, which Lambda keeps across the retries of
//     an asynchronous invocation.
//
// A job request is answered with a Result. One that can never run
// (malformed, refused by jobwatch or, for good, by the service) is an
// error naming the problem — for a direct invocation, the function's
// error; for an EventBridge event, which Lambda would only retry twice
// in vain, a record in Lambda's on-failure format sent at once to the
// submit-failures queue, and a Refusal. Other failures (DynamoDB or SQS
// unavailable) are the function's error, for Lambda to retry. The
// metrics recorded are written at the end.
func (s *Submitter) HandleLambda(ctx context.Context, payload json.RawMessage) (any, error) {
	defer s.flushMetrics(ctx)
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, s.invalid(ctx, &InvalidRequestError{
			Err: errors.New("the payload must be a JSON object: an SQS event, an EventBridge event or a job request")})
	}
	var probe struct {
		Records    json.RawMessage `json:"Records"`
		DetailType *string         `json:"detail-type"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return nil, s.invalid(ctx, &InvalidRequestError{Err: fmt.Errorf("the payload is not valid JSON: %w", err)})
	}
	switch {
	case probe.Records != nil:
		return s.handleSQS(ctx, trimmed)
	case probe.DetailType != nil:
		return s.handleEventBridge(ctx, trimmed)
	}
	req, err := contract.DecodeJobRequest(trimmed)
	if err != nil {
		return nil, s.invalid(ctx, &InvalidRequestError{RequestID: req.RequestID, Err: err})
	}
	if req.RequestID == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			req.RequestID = lc.AwsRequestID
		}
	}
	return s.submit(ctx, req)
}

// handleEventBridge runs the job request of an EventBridge event; one that
// can never run goes to the submit-failures queue.
func (s *Submitter) handleEventBridge(ctx context.Context, payload []byte) (any, error) {
	out, err := s.eventBridgeRequest(ctx, payload)
	if err == nil || !permanent(err) {
		return out, err
	}
	if derr := s.deadLetter(ctx, payload, err); derr != nil {
		s.log.ErrorContext(ctx, "could not send the refused job request to the submit-failures queue; failing the invocation",
			"error", derr.Error())
		return nil, err
	}
	return Refusal{Error: err.Error()}, nil
}

// Refusal answers an EventBridge job request that can never run: it was
// sent to the submit-failures queue, with Error naming the problem.
type Refusal struct {
	Error string `json:"error"`
}

func (s *Submitter) eventBridgeRequest(ctx context.Context, payload []byte) (any, error) {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, s.invalid(ctx, &InvalidRequestError{Err: fmt.Errorf("EventBridge event: %w", err)})
	}
	if ev.DetailType != contract.DetailTypeJobRequested {
		return nil, s.invalid(ctx, &InvalidRequestError{RequestID: ev.ID, Err: fmt.Errorf(
			"EventBridge event %s has detail-type %q; submit accepts only %q",
			ev.ID, ev.DetailType, contract.DetailTypeJobRequested)})
	}
	req, err := contract.DecodeJobRequest(ev.Detail)
	if err != nil {
		return nil, s.invalid(ctx, &InvalidRequestError{RequestID: ev.ID,
			Err: fmt.Errorf("detail of EventBridge event %s: %w", ev.ID, err)})
	}
	if req.RequestID == "" {
		req.RequestID = ev.ID
	}
	return s.submit(ctx, req)
}

func (s *Submitter) handleSQS(ctx context.Context, payload []byte) (any, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, s.invalid(ctx, &InvalidRequestError{Err: fmt.Errorf("SQS event: %w", err)})
	}
	for i, r := range ev.Records {
		if r.EventSource != "aws:sqs" {
			return nil, s.invalid(ctx, &InvalidRequestError{Err: fmt.Errorf(
				"record %d has eventSource %q; submit consumes only the waiting queue (aws:sqs)", i, r.EventSource)})
		}
	}
	return queue.Response(s.Wake(ctx, queue.Messages(ev))), nil
}

// submit answers a job request; on error the response is nil, not an
// empty Result.
func (s *Submitter) submit(ctx context.Context, req contract.JobRequest) (any, error) {
	res, err := s.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// deadLetter sends a job request that can never run (err says why) to
// the submit-failures queue at once, as Lambda's on-failure record of an
// asynchronous invocation: the queue's alarm and redrive tools read one
// format. The record holds the whole request, as Lambda's would.
func (s *Submitter) deadLetter(ctx context.Context, payload []byte, err error) error {
	var functionARN, requestID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		functionARN, requestID = lc.InvokedFunctionArn, lc.AwsRequestID
	}
	record := failureRecord{Version: "1.0", Timestamp: s.now().UTC().Format(time.RFC3339Nano), RequestPayload: payload}
	record.RequestContext.RequestID, record.RequestContext.FunctionARN = requestID, functionARN
	// Lambda's word for a failed invocation it will not retry.
	record.RequestContext.Condition, record.RequestContext.ApproximateInvokeCount = "RetriesExhausted", 1
	record.ResponseContext.StatusCode, record.ResponseContext.ExecutedVersion, record.ResponseContext.FunctionError = 200, "$LATEST", "Unhandled"
	record.ResponsePayload.ErrorMessage, record.ResponsePayload.ErrorType = err.Error(), errorType(err)
	if err := s.send(ctx, s.cfg.SubmitFailuresQueueURL, record, 0); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "job request refused; sent to the submit-failures queue", "error", err.Error())
	return nil
}

// failureRecord is Lambda's on-failure destination record of an
// asynchronous invocation.
type failureRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	} `json:"responsePayload"`
}

// errorType names the kind of err as the runtime would (its Go type).
func errorType(err error) string {
	var invalid *InvalidRequestError
	var refusedErr *RefusedError
	switch {
	case errors.As(err, &invalid):
		return "InvalidRequestError"
	case errors.As(err, &refusedErr):
		return "RefusedError"
	}
	return "CallError"
}

// flushMetrics writes the metrics recorded during the invocation.
func (s *Submitter) flushMetrics(ctx context.Context) {
	if err := s.metrics.Flush(); err != nil {
		s.log.WarnContext(ctx, "could not write the metrics", "error", err.Error())
	}
}

// invalid logs a payload refused before it became a job request; Submit
// logs the ones it refuses itself.
func (s *Submitter) invalid(ctx context.Context, err *InvalidRequestError) error {
	s.log.WarnContext(ctx, "job request refused", "jobRequestId", err.RequestID, "error", err.Error())
	return err
}
