package amplify

import (
	"context"
	"errors"
	"fmt"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithytime "github.com/aws/smithy-go/time"
	smithywaiter "github.com/aws/smithy-go/waiter"

	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// Job statuses the service reports. Status is a free string in the model;
// only COMPLETED and FAILED are known to be terminal.
const (
	JobStatusRunning   = "RUNNING"
	JobStatusCompleted = "COMPLETED"
	JobStatusFailed    = "FAILED"
)

// GetBackendJobAPIClient is the client BackendJobCompletedWaiter needs.
type GetBackendJobAPIClient interface {
	GetBackendJob(context.Context, *GetBackendJobInput, ...func(*Options)) (*GetBackendJobOutput, error)
}

// ErrWaitTimeout is returned (wrapped) when a waiter's maximum wait passes.
var ErrWaitTimeout = errors.New("exceeded max wait time for BackendJobCompleted waiter")

// JobFailedError is returned by BackendJobCompletedWaiter when the job
// ends FAILED; Message is the job's Error.
type JobFailedError struct {
	AppId, BackendEnvironmentName, JobId, Operation string
	Message                                         string
}

func (e *JobFailedError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error given"
	}
	return fmt.Sprintf("job %s (%s) on %s/%s failed: %s", e.JobId, e.Operation, e.AppId, e.BackendEnvironmentName, msg)
}

// BackendJobCompletedWaiterOptions configure a BackendJobCompletedWaiter.
type BackendJobCompletedWaiterOptions struct {
	// APIOptions are added to each GetBackendJob call's stack.
	APIOptions []func(*middleware.Stack) error

	// ClientOptions apply to each GetBackendJob call.
	ClientOptions []func(*Options)

	// MinDelay is the shortest wait between attempts (default 2s).
	MinDelay time.Duration

	// MaxDelay is the longest wait between attempts (default 120s). Delays
	// grow exponentially from MinDelay with full jitter, as smithy waiters do.
	MaxDelay time.Duration

	// LogWaitAttempts logs each attempt to the client's logger.
	LogWaitAttempts bool

	// NotFoundGrace is how long after SubmittedAt a NotFoundException is
	// taken for the service's eventual consistency and retried (default 30s).
	NotFoundGrace time.Duration

	// SubmittedAt is when the job was started; zero means when Wait began.
	SubmittedAt time.Time

	// Retryable decides from one attempt whether to wait more (true), stop
	// with success (false, nil) or stop with an error. The default
	// implements COMPLETED/FAILED/NotFound-grace as documented on the waiter.
	Retryable func(context.Context, *GetBackendJobInput, *GetBackendJobOutput, error) (bool, error)
}

// BackendJobCompletedWaiter waits until a backend job is COMPLETED. It
// fails with a *JobFailedError when the job ends FAILED, tolerates
// NotFoundException for NotFoundGrace after submission and gives up with
// ErrWaitTimeout after the maximum wait passed to Wait.
type BackendJobCompletedWaiter struct {
	client  GetBackendJobAPIClient
	options BackendJobCompletedWaiterOptions
}

// NewBackendJobCompletedWaiter returns a waiter using client.
func NewBackendJobCompletedWaiter(client GetBackendJobAPIClient, optFns ...func(*BackendJobCompletedWaiterOptions)) *BackendJobCompletedWaiter {
	options := BackendJobCompletedWaiterOptions{
		MinDelay:      2 * time.Second,
		MaxDelay:      120 * time.Second,
		NotFoundGrace: 30 * time.Second,
	}
	for _, fn := range optFns {
		fn(&options)
	}
	return &BackendJobCompletedWaiter{client: client, options: options}
}

// Wait waits for the job of params to complete, at most maxWaitDur.
func (w *BackendJobCompletedWaiter) Wait(ctx context.Context, params *GetBackendJobInput, maxWaitDur time.Duration, optFns ...func(*BackendJobCompletedWaiterOptions)) error {
	_, err := w.WaitForOutput(ctx, params, maxWaitDur, optFns...)
	return err
}

// WaitForOutput waits like Wait and returns the last GetBackendJob output.
func (w *BackendJobCompletedWaiter) WaitForOutput(ctx context.Context, params *GetBackendJobInput, maxWaitDur time.Duration, optFns ...func(*BackendJobCompletedWaiterOptions)) (*GetBackendJobOutput, error) {
	if maxWaitDur <= 0 {
		return nil, errors.New("maximum wait time for waiter must be greater than zero")
	}
	options := w.options
	for _, fn := range optFns {
		fn(&options)
	}
	if options.MaxDelay <= 0 {
		options.MaxDelay = 120 * time.Second
	}
	if options.MinDelay <= 0 || options.MinDelay > options.MaxDelay {
		return nil, fmt.Errorf("minimum waiter delay %v must be > 0 and <= maximum waiter delay %v", options.MinDelay, options.MaxDelay)
	}
	if options.SubmittedAt.IsZero() {
		options.SubmittedAt = time.Now()
	}
	retryable := options.Retryable
	if retryable == nil {
		retryable = jobCompletedRetryable(options.SubmittedAt, options.NotFoundGrace)
	}

	ctx, cancel := context.WithTimeout(ctx, maxWaitDur)
	defer cancel()

	remaining := maxWaitDur
	var attempt int64
	for {
		attempt++
		start := time.Now()
		apiOptions := append([]func(*middleware.Stack) error(nil), options.APIOptions...)
		if options.LogWaitAttempts {
			apiOptions = append(apiOptions, smithywaiter.Logger{Attempt: attempt}.AddLogger)
		}
		out, err := w.client.GetBackendJob(ctx, params, func(o *Options) {
			o.APIOptions = append(o.APIOptions, apiOptions...)
			o.APIOptions = append(o.APIOptions, awsmiddleware.AddSDKAgentKey(awsmiddleware.FeatureMetadata, "waiter"))
			for _, fn := range options.ClientOptions {
				fn(o)
			}
		})
		if err != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %w", ErrWaitTimeout, err)
		}
		again, err := retryable(ctx, params, out, err)
		if err != nil {
			return nil, err
		}
		if !again {
			return out, nil
		}
		remaining -= time.Since(start)
		if remaining < options.MinDelay || remaining <= 0 {
			break
		}
		delay, err := smithywaiter.ComputeDelay(attempt, options.MinDelay, options.MaxDelay, remaining)
		if err != nil {
			return nil, fmt.Errorf("compute waiter delay: %w", err)
		}
		remaining -= delay
		if err := smithytime.SleepWithContext(ctx, delay); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				break
			}
			return nil, fmt.Errorf("request cancelled while waiting: %w", err)
		}
	}
	return nil, ErrWaitTimeout
}

func jobCompletedRetryable(submittedAt time.Time, grace time.Duration) func(context.Context, *GetBackendJobInput, *GetBackendJobOutput, error) (bool, error) {
	return func(_ context.Context, in *GetBackendJobInput, out *GetBackendJobOutput, err error) (bool, error) {
		if err != nil {
			var nf *types.NotFoundException
			if errors.As(err, &nf) && time.Since(submittedAt) < grace {
				return true, nil
			}
			return false, err
		}
		switch deref(out.Status) {
		case JobStatusCompleted:
			return false, nil
		case JobStatusFailed:
			return false, &JobFailedError{
				AppId: deref(in.AppId), BackendEnvironmentName: deref(in.BackendEnvironmentName),
				JobId: deref(in.JobId), Operation: deref(out.Operation), Message: deref(out.Error),
			}
		}
		return true, nil
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
