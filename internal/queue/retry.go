package queue

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// A message whose work failed ends one of two ways, so that a queue's
// receive count is left for poison alone: after a transient failure (the
// service throttling, down or slow for a while) a delayed copy (Later)
// (Retry.Later) replaces it and the original is deleted, so an outage costs time and no
// message; after a permanent one (a message no version of the work can
// use, a request the service refuses) it is parked at once in the queue's
// dead-letter queue (Parked), the problem named, where an alarm sees it.
// Transient tells the two apart.

// ProblemAttribute is the message attribute naming why a message was
// parked in a dead-letter queue.
const ProblemAttribute = "jobwatch.problem"

// maxProblem bounds the problem attribute's length, in bytes.
const maxProblem = 1024

// Retry shapes the delayed copies that replace messages after transient
// failures: exponential from Base with full jitter (Backoff), never more
// than Limit; Rand draws the jitter from [0, 1). Its zero value is 5 s,
// 5 min and math/rand/v2's Float64.
type Retry struct {
	Base, Limit time.Duration
	Rand        func() float64
}

// The backoff's defaults, and the most SQS delays a message.
const (
	DefaultBackoffBase  = 5 * time.Second
	DefaultBackoffLimit = 5 * time.Minute
	maxSQSDelay         = 15 * time.Minute
)

// RetryFromEnv reads a function's backoff settings: BACKOFF_BASE (5s)
// and BACKOFF_LIMIT (5m, at most SQS's 15 min delay). Local stacks
// shorten the limit, so that a line or a lookup put off in an outage
// comes back soon after it.
func RetryFromEnv(env *settings.Env) Retry {
	return Retry{
		Base:  env.Duration("BACKOFF_BASE", DefaultBackoffBase, 0, maxSQSDelay),
		Limit: env.Duration("BACKOFF_LIMIT", DefaultBackoffLimit, time.Second, maxSQSDelay),
	}
}

// Later is the copy of m sent in its stead after its work failed
// transiently: the same body, one attempt more, delayed as r says.
func (r Retry) Later(m Message) Outgoing {
	if r.Base <= 0 {
		r.Base = DefaultBackoffBase
	}
	if r.Limit <= 0 {
		r.Limit = DefaultBackoffLimit
	}
	if r.Rand == nil {
		r.Rand = rand.Float64
	}
	attempt := m.Attempt + 1
	return Outgoing{Body: m.Body, Attempt: attempt, Delay: min(Backoff(attempt, r.Base, r.Limit, r.Rand), r.Limit)}
}

// Again is the copy of m sent in its stead, at once, when its work was not
// even tried (the invocation had too little time left): the same body and
// attempt.
func Again(m Message) Outgoing { return Outgoing{Body: m.Body, Attempt: m.Attempt} }

// Parked is m as it goes to a dead-letter queue: its body as it came (a
// redrive puts it back unchanged) and the problem, on one line of at most
// 1 KB.
func Parked(m Message, problem string) Outgoing {
	problem = strings.Map(func(r rune) rune {
		if r < 0x20 || r == utf8.RuneError {
			return ' '
		}
		return r
	}, problem)
	for len(problem) > maxProblem {
		_, size := utf8.DecodeLastRuneInString(problem)
		problem = problem[:len(problem)-size]
	}
	return Outgoing{Body: m.Body, Attempt: m.Attempt, Problem: problem}
}

// retryables decide first: an error that says itself whether it is worth
// retrying (a RetryableError method), then the SDK's standard checks.
var retryables = retry.IsErrorRetryables(append([]retry.IsErrorRetryable{retry.RetryableError{}}, retry.DefaultRetryables...))

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// Transient reports whether work that failed with err may succeed when
// tried again later: throttling, server errors (5xx), timeouts, dropped
// connections, the invocation's own deadline, and errors the SDK's
// standard retryer retries. A request the service refused (4xx but 408
// and 429, or an API error of the client's fault) is not; an error that
// implements RetryableError() bool says so itself. Errors nobody
// classifies count as transient: putting work off costs time, parking it
// needs an operator.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if canceled(err) {
		return true
	}
	switch retryables.IsErrorRetryable(err) {
	case aws.TrueTernary:
		return true
	case aws.FalseTernary:
		return false
	}
	if throttles.IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	if code := statusCode(err); code >= 400 {
		return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
	}
	var apiErr smithy.APIError
	return !errors.As(err, &apiErr) || apiErr.ErrorFault() != smithy.FaultClient
}

// The causes Cause names, the Reason of the Backoffs metric.
const (
	CauseThrottled   = "Throttled"
	CauseServerError = "ServerError"
	CauseTimeout     = "Timeout"
	CauseConnection  = "Connection"
	CauseOther       = "Other"
)

// Cause names the kind of a transient failure, for logs and metrics:
// CauseThrottled, CauseServerError, CauseTimeout, CauseConnection or
// CauseOther.
func Cause(err error) string {
	code := statusCode(err)
	switch {
	case code == http.StatusTooManyRequests || throttles.IsErrorThrottle(err) == aws.TrueTernary:
		return CauseThrottled
	case code >= 500:
		return CauseServerError
	case canceled(err) || code == http.StatusRequestTimeout:
		return CauseTimeout
	case retry.RetryableConnectionError{}.IsErrorRetryable(err) == aws.TrueTernary:
		return CauseConnection
	}
	return CauseOther
}

// canceled reports whether err is a context's end: the invocation's
// deadline, or a request the SDK gave up waiting for.
func canceled(err error) bool {
	var c interface{ CanceledError() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &c) && c.CanceledError())
}

// statusCode is the HTTP status of the answer err carries, 0 when none.
func statusCode(err error) int {
	var v interface{ HTTPStatusCode() int }
	if errors.As(err, &v) {
		return v.HTTPStatusCode()
	}
	return 0
}
