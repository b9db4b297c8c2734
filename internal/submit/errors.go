package submit

import (
	"errors"
	"fmt"

	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
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
func retryable(err error) bool {
	var throttled *types.TooManyRequestsException
	var timeout *types.GatewayTimeoutException
	if errors.As(err, &throttled) || errors.As(err, &timeout) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorFault() != smithy.FaultClient
	}
	return true // no answer from the service: network, context deadline
}

// isBusy reports whether the service refused because another job is
// pending on the environment.
func isBusy(err error) bool { return amplify.IsPendingJobError(err) }
