package submit

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// InvalidRequestError says a payload is not a job request submit can read:
// malformed JSON, a wrong detail-type, an unknown operation, an input
// member missing or wrong. Err names the problem; it never holds an input
// value. Sending the same payload again fails the same way.
type InvalidRequestError struct {
	// RequestID is the request's id when it was known.
	RequestID string
	Err       error
}

func (e *InvalidRequestError) Error() string {
	if e.RequestID == "" {
		return fmt.Sprintf("invalid job request: %v", e.Err)
	}
	return fmt.Sprintf("invalid job request %s: %v", e.RequestID, e.Err)
}

func (e *InvalidRequestError) Unwrap() error { return e.Err }

// RefusedError says jobwatch will not run a well-formed request: the
// operation starts no job it can follow, the app is not allowed, the
// request id was used for another request, or the environment's line is
// full.
type RefusedError struct {
	RequestID string
	Operation string
	Reason    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("job request %s refused: %s", e.RequestID, e.Reason)
}

// InProgressError says another invocation is working on the same request id
// right now; retrying later answers with its outcome.
type InProgressError struct{ RequestID string }

func (e *InProgressError) Error() string {
	return fmt.Sprintf("job request %s is being submitted by another invocation; retry later for its outcome", e.RequestID)
}

// CallError says the Admin API refused or failed an operation. Err is the
// SDK's error (a *smithy.OperationError around the service's exception).
type CallError struct {
	RequestID              string
	Operation              string
	AppID                  string
	BackendEnvironmentName string
	Err                    error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("job request %s: %s on app %s environment %s: %v",
		e.RequestID, e.Operation, e.AppID, e.BackendEnvironmentName, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// Retryable reports whether the call may succeed when tried again:
// throttling, a timeout, a server fault or a failure to reach the service.
func (e *CallError) Retryable() bool { return retryable(e.Err) }

// retryable tells throttling, timeouts and server faults (worth another
// try) from the service refusing the request itself (BadRequest, NotFound,
// access denied), which would fail the same way again.
func retryable(err error) bool { return answerOf(err) != answerRefused }

// answer is what the failure of a job-starting call says about its job.
type answer int

const (
	// answerUnknown: no answer (a timeout, a dropped connection, the
	// context's end) or a server fault (5xx, 504): the job may have
	// started.
	answerUnknown answer = iota
	// answerBusy: another job is pending on the environment; none started.
	answerBusy
	// answerThrottled: the call was throttled; no job started.
	answerThrottled
	// answerRefused: the service refused the request itself (BadRequest,
	// NotFound, access denied); no job started, and none will.
	answerRefused
)

// answerOf reads the failure of a job-starting call.
func answerOf(err error) answer {
	var apiErr smithy.APIError
	switch {
	case isBusy(err):
		return answerBusy
	case isThrottle(err):
		return answerThrottled
	case errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultClient:
		return answerRefused
	}
	return answerUnknown
}

// throttles are the errors the SDK counts as throttling (429
// TooManyRequestsException among them).
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

func isThrottle(err error) bool {
	var throttled *types.TooManyRequestsException
	return errors.As(err, &throttled) || throttles.IsErrorThrottle(err) == aws.TrueTernary
}

// isBusy reports whether the service refused because another job is
// pending on the environment.
func isBusy(err error) bool { return amplify.IsPendingJobError(err) }

// Reasons for putting work off, the Reason dimension of the Backoffs
// metric.
const (
	reasonThrottled   = "AdminApiThrottled"
	reasonUnavailable = "AdminApiUnavailable"
	reasonStateTable  = "StateTable"
	reasonQueue       = "Queue"
	reasonDeadline    = "InvocationDeadline"
	reasonOther       = "Other"
)

// reasonOf names the service whose failure put work off.
func reasonOf(err error) string {
	var oe *smithy.OperationError
	switch {
	case isThrottle(err) && errors.As(err, &oe) && oe.ServiceID == amplify.ServiceID:
		return reasonThrottled
	case errors.As(err, &oe) && oe.ServiceID == "DynamoDB":
		return reasonStateTable
	case errors.As(err, &oe) && oe.ServiceID == "SQS", errors.As(err, new(*queue.EntryError)):
		return reasonQueue
	case errors.As(err, new(*CallError)), errors.As(err, &oe) && oe.ServiceID == amplify.ServiceID:
		return reasonUnavailable
	}
	return reasonOther
}

// putOffError says the Admin API did not let a request start now
// (throttling, an outage, an unanswered call): the request waits, and is
// tried again after a backoff.
type putOffError struct{ err error }

func (e *putOffError) Error() string { return "the Admin API is unavailable: " + e.err.Error() }

func (e *putOffError) Unwrap() error { return e.err }

// permanent reports whether err is the request's own fault — it would
// fail the same way again — rather than jobwatch's or a service's.
func permanent(err error) bool {
	var invalid *InvalidRequestError
	var refusedErr *RefusedError
	var callErr *CallError
	return errors.As(err, &invalid) || errors.As(err, &refusedErr) || errors.As(err, &callErr) && !callErr.Retryable()
}
