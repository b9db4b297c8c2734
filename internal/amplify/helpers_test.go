package amplify_test

import (
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// newTestClient returns a client for endpoint with static credentials and
// the SDK's standard retryer, its backoff shortened so tests stay fast.
func newTestClient(endpoint string, optFns ...func(*amplify.Options)) *amplify.Client {
	opts := amplify.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRETEXAMPLE", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		}),
	}
	return amplify.New(opts, optFns...)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
