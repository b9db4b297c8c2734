package amplify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

func getJobInput() *amplify.GetBackendJobInput {
	return &amplify.GetBackendJobInput{AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), JobId: aws.String("j1")}
}

// errorCase is one way the service names an error, and what the caller
// must see.
type errorCase struct {
	status   int
	header   string
	body     string
	wantCode string
	wantMsg  string
	typed    func(error) bool
	attempts int32
}

var errorCases = map[string]errorCase{
	"not found by header": {
		status: 404, header: "NotFoundException", body: `{"message":"job j1 not found","resourceType":"job"}`,
		wantCode: "NotFoundException", wantMsg: "job j1 not found", attempts: 1,
		typed: isA(func(e *types.NotFoundException) bool { return aws.ToString(e.ResourceType) == "job" }),
	},
	"header with a suffix after a colon": {
		status: 400, header: "BadRequestException:http://internal.amazon.com/coral/x/", body: `{"message":"bad"}`,
		wantCode: "BadRequestException", wantMsg: "bad", attempts: 1,
		typed: isA[*types.BadRequestException](),
	},
	"code in the body": {
		status: 400, body: `{"code":"BadRequestException","Message":"capitalised message"}`,
		wantCode: "BadRequestException", wantMsg: "capitalised message", attempts: 1,
		typed: isA[*types.BadRequestException](),
	},
	"code in another case, matched as the SDK does": {
		status: 404, header: "notFoundException", body: `{"message":"gone"}`,
		wantCode: "NotFoundException", wantMsg: "gone", attempts: 1,
		typed: isA[*types.NotFoundException](),
	},
	"__type with a namespace": {
		status: 404, body: `{"__type":"com.amazonaws.amplifybackend#NotFoundException","message":"gone"}`,
		wantCode: "NotFoundException", wantMsg: "gone", attempts: 1,
		typed: isA[*types.NotFoundException](),
	},
	"throttled, retried, then given up": {
		status: 429, header: "TooManyRequestsException", body: `{"message":"slow down","limitType":"api"}`,
		wantCode: "TooManyRequestsException", wantMsg: "slow down", attempts: 3,
		typed: isA(func(e *types.TooManyRequestsException) bool { return aws.ToString(e.LimitType) == "api" }),
	},
	"gateway timeout, retried": {
		status: 504, header: "GatewayTimeoutException", body: `{"message":"timed out"}`,
		wantCode: "GatewayTimeoutException", wantMsg: "timed out", attempts: 3,
		typed: isA(func(e *types.GatewayTimeoutException) bool { return e.ErrorFault() == smithy.FaultServer }),
	},
	"unmodeled code keeps code and message": {
		status: 400, header: "ValidationException", body: `{"message":"There is already a pending job"}`,
		wantCode: "ValidationException", wantMsg: "There is already a pending job", attempts: 1,
		typed: isA[*smithy.GenericAPIError](),
	},
	"no code at all": {
		status: 500, body: `not json`, wantCode: "UnknownError", wantMsg: "HTTP 500", attempts: 3,
		typed: isA[*smithy.GenericAPIError](),
	},
}

// isA returns a test of whether an error is, or wraps, a T for which
// every check holds.
func isA[T error](checks ...func(T) bool) func(error) bool {
	return func(err error) bool {
		var e T
		if !errors.As(err, &e) {
			return false
		}
		for _, check := range checks {
			if !check(e) {
				return false
			}
		}
		return true
	}
}

// TestErrors checks each way the service names an error and what the
// caller sees: the typed error, its code and message, the request id, and
// how many requests were made.
func TestErrors(t *testing.T) {
	for name, tc := range errorCases {
		t.Run(name, func(t *testing.T) {
			var attempts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				attempts.Add(1)
				if tc.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tc.header)
				}
				w.Header().Set("x-amzn-RequestId", "req-42")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()

			_, err := newTestClient(srv.URL).GetBackendJob(context.Background(), getJobInput())
			checkErrorSeen(t, err, tc)
			if got := attempts.Load(); got != tc.attempts {
				t.Errorf("requests made = %d, want %d", got, tc.attempts)
			}
		})
	}
}

// checkErrorSeen checks err is the API error tc describes, wrapped as the
// SDK wraps it: in an OperationError and a ResponseError with the request id.
func checkErrorSeen(t *testing.T, err error, tc errorCase) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	if apiErr.ErrorCode() != tc.wantCode || apiErr.ErrorMessage() != tc.wantMsg {
		t.Errorf("code, message = %q, %q; want %q, %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tc.wantCode, tc.wantMsg)
	}
	if !tc.typed(err) {
		t.Errorf("error %#v is not of the expected type", err)
	}
	var opErr *smithy.OperationError
	if !errors.As(err, &opErr) || opErr.Service() != "AmplifyBackend" || opErr.Operation() != "GetBackendJob" {
		t.Errorf("error %v is not an OperationError naming AmplifyBackend GetBackendJob", err)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) || respErr.ServiceRequestID() != "req-42" {
		t.Errorf("request id not on the error: %v", err)
	}
}

// TestRetryThenSuccess checks a throttled call succeeds once the service
// recovers, and reports the request id of the answer.
func TestRetryThenSuccess(t *testing.T) {
	var attempts atomic.Int32
	var mu sync.Mutex
	var sdkRequest []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := attempts.Add(1)
		mu.Lock()
		sdkRequest = append(sdkRequest, r.Header.Get("Amz-Sdk-Request"))
		mu.Unlock()
		w.Header().Set("x-amzn-RequestId", fmt.Sprintf("req-%d", n))
		if n < 3 {
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"Rate exceeded"}`)
			return
		}
		fmt.Fprint(w, `{"jobId":"j1","status":"COMPLETED"}`)
	}))
	defer srv.Close()

	out, err := newTestClient(srv.URL).GetBackendJob(context.Background(), getJobInput())
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Status) != "COMPLETED" {
		t.Errorf("Status = %q", aws.ToString(out.Status))
	}
	if id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); id != "req-3" {
		t.Errorf("request id = %q, want req-3", id)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"}
	if strings.Join(sdkRequest, "|") != strings.Join(want, "|") {
		t.Errorf("amz-sdk-request headers = %q, want %q", sdkRequest, want)
	}
}

// TestPerCallOptions checks per-call options change one call only.
func TestPerCallOptions(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.Header().Set("X-Amzn-ErrorType", "GatewayTimeoutException")
		w.WriteHeader(http.StatusGatewayTimeout)
	}))
	defer srv.Close()
	c := newTestClient(srv.URL)

	_, _ = c.GetBackendJob(context.Background(), getJobInput(), func(o *amplify.Options) { o.RetryMaxAttempts = 5 })
	if got := attempts.Swap(0); got != 5 {
		t.Errorf("with RetryMaxAttempts=5 per call: %d requests", got)
	}
	_, _ = c.GetBackendJob(context.Background(), getJobInput())
	if got := attempts.Load(); got != 3 {
		t.Errorf("next call without options: %d requests, want the client's 3", got)
	}
	if c.Options().RetryMaxAttempts != 0 {
		t.Error("per-call option leaked into the client's options")
	}
}

// TestValidationBeforeSend checks a missing required member fails before
// any request is made, naming the member.
func TestValidationBeforeSend(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attempts.Add(1) }))
	defer srv.Close()

	_, err := newTestClient(srv.URL).CreateBackendAuth(context.Background(), &amplify.CreateBackendAuthInput{
		AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("auth"),
		ResourceConfig: &types.CreateBackendAuthResourceConfig{AuthResources: types.AuthResourcesUserPoolOnly},
	})
	var invalid smithy.InvalidParamsError
	if !errors.As(err, &invalid) {
		t.Fatalf("err = %v, want smithy.InvalidParamsError", err)
	}
	for _, member := range []string{"ResourceConfig.Service", "ResourceConfig.UserPoolConfigs"} {
		if !strings.Contains(err.Error(), member) {
			t.Errorf("error %q does not name %s", err, member)
		}
	}
	if attempts.Load() != 0 {
		t.Errorf("%d requests sent for an invalid input", attempts.Load())
	}

	_, err = newTestClient(srv.URL).GetBackendJob(context.Background(), &amplify.GetBackendJobInput{
		AppId: aws.String("d1"), BackendEnvironmentName: aws.String(""), JobId: aws.String("j"),
	})
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "GetBackendJobInput.BackendEnvironmentName must not be empty") {
		t.Errorf("empty URI label: err = %v, want a smithy.InvalidParamsError naming the member", err)
	}
	if attempts.Load() != 0 {
		t.Errorf("%d requests sent for an empty URI label", attempts.Load())
	}
}

// TestEndpointResolution checks where requests go for each configuration.
func TestEndpointResolution(t *testing.T) {
	hit := func() (*httptest.Server, *atomic.Int32) {
		var n atomic.Int32
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			fmt.Fprint(w, `{}`)
		})), &n
	}
	service, serviceHits := hit()
	defer service.Close()
	global, globalHits := hit()
	defer global.Close()
	config, configHits := hit()
	defer config.Close()

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	tests := map[string]struct {
		env     map[string]string
		cfgBase *string
		want    *atomic.Int32
	}{
		"service variable wins over everything": {
			env:     map[string]string{"AWS_ENDPOINT_URL_AMPLIFYBACKEND": service.URL, "AWS_ENDPOINT_URL": global.URL},
			cfgBase: aws.String(config.URL), want: serviceHits,
		},
		"config base endpoint next": {
			env: map[string]string{"AWS_ENDPOINT_URL": global.URL}, cfgBase: aws.String(config.URL), want: configHits,
		},
		"global variable for hand-made configs": {
			env: map[string]string{"AWS_ENDPOINT_URL": global.URL}, want: globalHits,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_AMPLIFYBACKEND", "")
			t.Setenv("AWS_ENDPOINT_URL", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c := cfg
			c.BaseEndpoint = tc.cfgBase
			before := tc.want.Load()
			if _, err := amplify.NewFromConfig(c).ListS3Buckets(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			if tc.want.Load() != before+1 {
				t.Error("request did not reach the expected endpoint")
			}
		})
	}
}

// TestDefaultEndpoint checks the regional AWS endpoint is used when nothing
// overrides it, by looking at the request the client would send.
func TestDefaultEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_AMPLIFYBACKEND", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	var host string
	c := amplify.New(amplify.Options{
		Region:      "eu-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		HTTPClient: httpClientFunc(func(r *http.Request) (*http.Response, error) {
			host = r.URL.Scheme + "://" + r.URL.Host
			return nil, errors.New("not sent in a test")
		}),
		Retryer: aws.NopRetryer{},
	})
	_, _ = c.ListS3Buckets(context.Background(), nil)
	if host != "https://amplifybackend.eu-west-2.amazonaws.com" {
		t.Errorf("endpoint = %q", host)
	}
}

type httpClientFunc func(*http.Request) (*http.Response, error)

func (f httpClientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestNoCredentials checks a client without credentials says so.
func TestNoCredentials(t *testing.T) {
	_, err := amplify.New(amplify.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), Retryer: aws.NopRetryer{}}).
		ListS3Buckets(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("err = %v, want one saying there are no credentials", err)
	}
}

func TestIsPendingJobError(t *testing.T) {
	tests := map[string]struct {
		header, body string
		want         bool
	}{
		"bad request, pending":   {"BadRequestException", `{"message":"There is already a pending job for the requested appId d1 and backendEnvironmentName dev. Please wait for it to complete"}`, true},
		"validation, pending":    {"ValidationException", `{"message":"There is already a pending job for the requested appId d1"}`, true},
		"bad request, other":     {"BadRequestException", `{"message":"resourceName is invalid"}`, false},
		"not found, pending-ish": {"NotFoundException", `{"message":"pending job not found"}`, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Amzn-ErrorType", tc.header)
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			_, err := newTestClient(srv.URL).CloneBackend(context.Background(), &amplify.CloneBackendInput{
				AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("t"),
			})
			if got := amplify.IsPendingJobError(err); got != tc.want {
				t.Errorf("IsPendingJobError(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
	if amplify.IsPendingJobError(nil) || amplify.IsPendingJobError(errors.New("pending job")) {
		t.Error("a non-API error was taken for a pending-job refusal")
	}
}
