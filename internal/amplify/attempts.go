package amplify

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// ObserveAttempts returns an option that calls observe after each attempt
// of every operation, retries included, with the operation's name and
// whether the service throttled that attempt (HTTP 429, or a throttling
// error code such as TooManyRequestsException). The functions count their
// Admin API calls and throttles with it:
//
//	rec := metrics.New(os.Stdout, namespace)
//	client := amplify.NewFromConfig(cfg, amplify.ObserveAttempts(rec.AdminAPIAttempt))
//
// observe runs on the calling goroutine and must be safe for concurrent
// use, as calls may be. It is added after the retry middleware, so it
// sees each attempt (not the operation's end), and leaves the attempt's
// result as it was.
func ObserveAttempts(observe func(operation string, throttled bool)) func(*Options) {
	return func(o *Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Insert(&attemptObserver{operation: s.ID(), observe: observe}, "Retry", middleware.After)
		})
	}
}

// attemptObserver is the middleware of ObserveAttempts.
type attemptObserver struct {
	operation string
	observe   func(operation string, throttled bool)
}

// ID implements middleware.FinalizeMiddleware.
func (*attemptObserver) ID() string { return "ObserveAttempts" }

// HandleFinalize implements middleware.FinalizeMiddleware.
func (m *attemptObserver) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleFinalize(ctx, in)
	m.observe(m.operation, isThrottle(err))
	return out, md, err
}

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// isThrottle reports whether err is the service's throttling.
func isThrottle(err error) bool {
	if err == nil {
		return false
	}
	var status interface{ HTTPStatusCode() int }
	return throttles.IsErrorThrottle(err) == aws.TrueTernary ||
		(errors.As(err, &status) && status.HTTPStatusCode() == http.StatusTooManyRequests)
}
