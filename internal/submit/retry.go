package submit

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// ClientCall returns the CallFunc that calls through c, with the SDK
// retrying a job-starting call on throttling only: a throttled call
// started nothing, while one that timed out, failed with a 5xx or lost its
// connection may have started its job, and sent again would start a
// second one or be refused as pending by its own job. Submit finds out
// what became of such a call itself (see reconcile). The client's other
// operations keep their retryer.
func ClientCall(c *amplify.Client) CallFunc {
	var onlyThrottles aws.Retryer
	if c != nil {
		onlyThrottles = throttleRetryer{RetryerV2: retryerV2(c.Options().Retryer)}
	}
	return func(ctx context.Context, op *amplify.Operation, input any) (any, error) {
		if c == nil {
			return nil, errors.New("no Admin API client")
		}
		return op.Call(ctx, c, input, func(o *amplify.Options) { o.Retryer = onlyThrottles })
	}
}

// throttleRetryer is a retryer that retries throttling errors only, with
// the attempts, delays and retry quota of the retryer it wraps.
type throttleRetryer struct{ aws.RetryerV2 }

// IsErrorRetryable reports whether err is a throttling error.
func (throttleRetryer) IsErrorRetryable(err error) bool { return isThrottle(err) }

// retryerV2 is r as an aws.RetryerV2, as the SDK's retry middleware sees
// it.
func retryerV2(r aws.Retryer) aws.RetryerV2 {
	if v2, ok := r.(aws.RetryerV2); ok {
		return v2
	}
	return v1Retryer{r}
}

type v1Retryer struct{ aws.Retryer }

func (r v1Retryer) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
