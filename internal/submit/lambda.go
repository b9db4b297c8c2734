package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// A job request is answered with a Result; a bad payload is an error
// naming the problem, returned as the function's error so that
// EventBridge's retries and on-failure destination keep the event.
func (s *Submitter) HandleLambda(ctx context.Context, payload json.RawMessage) (any, error) {
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

func (s *Submitter) handleEventBridge(ctx context.Context, payload []byte) (any, error) {
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

// invalid logs a payload refused before it became a job request; Submit
// logs the ones it refuses itself.
func (s *Submitter) invalid(ctx context.Context, err *InvalidRequestError) error {
	s.log.WarnContext(ctx, "job request refused", "jobRequestId", err.RequestID, "error", err.Error())
	return err
}
