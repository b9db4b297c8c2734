package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// answered is err as an SDK client returns it for an HTTP answer of
// status: inside a *smithy.OperationError and an HTTP response error.
func answered(status int, err error) error {
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status}}
	return &smithy.OperationError{ServiceID: "AmplifyBackend", OperationName: "GetBackendJob",
		Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: resp, Err: err}}}
}

// verdict is an error that says itself whether it is worth retrying, as
// notify's Slack and entry errors do.
type verdict bool

func (v verdict) Error() string        { return fmt.Sprintf("retryable: %v", bool(v)) }
func (v verdict) RetryableError() bool { return bool(v) }
func (v verdict) HTTPStatusCode() int {
	if v {
		return http.StatusTooManyRequests
	}
	return http.StatusNotFound
}

// TestTransient checks which failures put work off (a delayed copy) and
// which park it (the dead-letter queue), with the errors the SDK clients
// return for them, and the cause each is counted under.
func TestTransient(t *testing.T) {
	tests := map[string]struct {
		err       error
		transient bool
		cause     string
	}{
		"throttled after the SDK's retries": {answered(429, &retry.MaxAttemptsError{Attempt: 3, Err: &types.TooManyRequestsException{}}), true, queue.CauseThrottled},
		"retry quota used up":               {errors.Join(answered(503, &smithy.GenericAPIError{Code: "ServiceUnavailableException"}), ratelimit.QuotaExceededError{}), true, queue.CauseServerError},
		"outage: 503":                       {answered(503, &smithy.GenericAPIError{Code: "ServiceUnavailableException", Fault: smithy.FaultServer}), true, queue.CauseServerError},
		"gateway timeout: 504":              {answered(504, &types.GatewayTimeoutException{}), true, queue.CauseServerError},
		"internal error: 500":               {answered(500, &smithy.GenericAPIError{Code: "InternalFailure"}), true, queue.CauseServerError},
		"connection reset":                  {&smithyhttp.RequestSendError{Err: errors.New("read tcp: connection reset by peer")}, true, queue.CauseConnection},
		"answer cut short":                  {&smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF}, true, queue.CauseConnection},
		"the invocation's deadline":         {fmt.Errorf("get backend job: %w", context.DeadlineExceeded), true, queue.CauseTimeout},
		"a wait the SDK gave up":            {&aws.RequestCanceledError{Err: context.Canceled}, true, queue.CauseTimeout},
		"DynamoDB throttling":               {answered(400, &ddbtypes.ProvisionedThroughputExceededException{}), true, queue.CauseThrottled},
		"DynamoDB request limit":            {answered(400, &ddbtypes.RequestLimitExceeded{}), true, queue.CauseThrottled},
		"an error nobody classifies":        {errors.New("something odd"), true, queue.CauseOther},
		"bad request: refused":              {answered(400, &types.BadRequestException{}), false, ""},
		"access denied: refused":            {answered(403, &smithy.GenericAPIError{Code: "AccessDeniedException"}), false, ""},
		"a client-fault API error":          {&smithy.GenericAPIError{Code: "ValidationException", Fault: smithy.FaultClient}, false, ""},
		"the error says retry":              {fmt.Errorf("post: %w", verdict(true)), true, queue.CauseThrottled},
		"the error says never":              {fmt.Errorf("post: %w", verdict(false)), false, ""},
		"no error":                          {nil, false, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := queue.Transient(tc.err); got != tc.transient {
				t.Errorf("Transient = %v, want %v", got, tc.transient)
			}
			if got := queue.Cause(tc.err); tc.transient && got != tc.cause {
				t.Errorf("Cause = %q, want %q", got, tc.cause)
			}
		})
	}
}

// TestLaterAndParked sends a delayed copy and a parked message through
// moto and reads them back: the copy carries the next attempt and waits
// its backoff, never past the limit; the parked one carries its problem
// on one line, cut to 1 KB.
func TestLaterAndParked(t *testing.T) {
	c := sqs.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)))
	ctx := testenv.Context(t)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(t, "retry"))})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(q.QueueUrl)
	orig := queue.Message{ID: "m", Body: `{"v":1}`, Attempt: 8}
	one := func() float64 { return 0.999999 }
	if later := (queue.Retry{Rand: one}).Later(orig); later.Attempt != 9 || later.Delay != 5*time.Minute || later.Body != orig.Body {
		t.Errorf("Later after attempt 8 = %+v; want attempt 9, delayed the default 5 min cap", later)
	}
	later := queue.Retry{Base: time.Second, Limit: 2 * time.Second, Rand: func() float64 { return 0 }}.Later(queue.Message{ID: "m", Body: "b"})
	parked := queue.Parked(orig, "tracking message: field \"jobId\" is required\n"+strings.Repeat("é", 600))
	if _, errs := queue.NewSender(c).Send(ctx, url, []queue.Outgoing{later, parked}); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	got := map[string]queue.Message{}
	var problem string
	for end := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(end); {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if a, ok := m.MessageAttributes[queue.ProblemAttribute]; ok {
				problem = aws.ToString(a.StringValue)
			}
		}
		for _, m := range queue.Messages(lambdasim.EventOf(out.Messages, "arn:aws:sqs:us-east-1:123456789012:q")) {
			got[m.Body] = m
		}
	}
	if got["b"].Attempt != 1 || got[orig.Body].Attempt != 8 {
		t.Errorf("received %+v; want the copy at attempt 1 and the parked message at its own 8", got)
	}
	if len(problem) > 1024 || strings.Contains(problem, "\n") || !strings.HasPrefix(problem, `tracking message: field "jobId" is required é`) {
		t.Errorf("problem attribute = %q (%d bytes); want the problem on one line, at most 1 KB", problem, len(problem))
	}
}

// RetryFromEnv reads BACKOFF_BASE and BACKOFF_LIMIT, and names a bad one.
func TestRetryFromEnv(t *testing.T) {
	env := settings.FromMap(map[string]string{"BACKOFF_BASE": "1s", "BACKOFF_LIMIT": "30s"})
	if r := queue.RetryFromEnv(env); r.Base != time.Second || r.Limit != 30*time.Second || env.Err() != nil {
		t.Errorf("RetryFromEnv = %+v, %v; want 1s, 30s", r, env.Err())
	}
	env = settings.FromMap(nil)
	if r := queue.RetryFromEnv(env); r.Base != queue.DefaultBackoffBase || r.Limit != queue.DefaultBackoffLimit {
		t.Errorf("defaults = %+v", r)
	}
	env = settings.FromMap(map[string]string{"BACKOFF_LIMIT": "16m"})
	queue.RetryFromEnv(env)
	if err := env.Err(); err == nil || !strings.Contains(err.Error(), "BACKOFF_LIMIT") {
		t.Errorf("BACKOFF_LIMIT=16m: %v, want an error naming it", err)
	}
}
