package secretstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/restjson"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Client makes the calls. Build it with NewFromConfig.
type Client struct {
	region      string
	credentials aws.CredentialsProvider
	httpClient  aws.HTTPClient
	retryer     aws.Retryer
	signer      *v4.Signer
	endpoints   map[string]string // by service id; "" for the default
	now         func() time.Time
}

// NewFromConfig returns a client using cfg's region, credentials, HTTP
// client, retryer and base endpoint, and the AWS_ENDPOINT_URL_SSM and
// AWS_ENDPOINT_URL_SECRETS_MANAGER overrides, as the SDK's clients would.
// cfg's APIOptions (middleware) do not apply: there is no middleware
// stack.
func NewFromConfig(cfg aws.Config) *Client {
	c := &Client{
		region: cfg.Region, credentials: cfg.Credentials, httpClient: cfg.HTTPClient,
		signer: v4.NewSigner(), endpoints: make(map[string]string), now: time.Now,
	}
	if c.httpClient == nil {
		c.httpClient = awshttp.NewBuildableClient()
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	} else {
		c.retryer = retry.NewStandard()
	}
	if cfg.RetryMaxAttempts > 0 {
		c.retryer = retry.AddWithMaxAttempts(c.retryer, cfg.RetryMaxAttempts)
	}
	ignore := strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
	for _, s := range []service{ssmService, secretsManagerService} {
		switch v := os.Getenv(s.endpointEnv); {
		case v != "" && !ignore:
			c.endpoints[s.id] = v
		case cfg.BaseEndpoint != nil:
			c.endpoints[s.id] = *cfg.BaseEndpoint
		}
	}
	return c
}

// service is what a call needs to know of its service.
type service struct {
	id          string // the SDK's service id, which errors name
	signingName string // SigV4's service name, also the endpoint's host prefix
	targetName  string // X-Amz-Target is targetName.Operation
	endpointEnv string
}

var (
	ssmService            = service{"SSM", "ssm", "AmazonSSM", "AWS_ENDPOINT_URL_SSM"}
	secretsManagerService = service{"Secrets Manager", "secretsmanager", "secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}
)

// endpoint is the URL calls to s go to: the override, or the regional
// endpoint.
func (c *Client) endpoint(s service) (string, error) {
	if e := c.endpoints[s.id]; e != "" {
		return strings.TrimRight(e, "/") + "/", nil
	}
	if c.region == "" {
		return "", errors.New("no region: set AWS_REGION or the profile's region")
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(c.region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "https://" + s.signingName + "." + c.region + "." + suffix + "/", nil
}

// call sends in as operation op of s and decodes the answer into out,
// retrying as the retryer allows. Its errors are *smithy.OperationError,
// holding a smithy.APIError when the service refused.
func (c *Client) call(ctx context.Context, s service, op string, in, out any) error {
	err := c.callWithRetries(ctx, s, op, in, out)
	if err != nil {
		return &smithy.OperationError{ServiceID: s.id, OperationName: op, Err: err}
	}
	return nil
}

// callWithRetries asks the retryer which errors to retry and how long to
// wait, as the SDK's retry middleware does; it takes no retry tokens (the
// client-side quota), which one read every few minutes never needs.
func (c *Client) callWithRetries(ctx context.Context, s service, op string, in, out any) error {
	url, err := c.endpoint(s)
	if err != nil {
		return err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return &smithy.SerializationError{Err: err}
	}
	for attempt := 1; ; attempt++ {
		err = c.send(ctx, s, op, url, body, out)
		if err == nil || attempt >= c.retryer.MaxAttempts() || !c.retryer.IsErrorRetryable(err) {
			return err
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return err
		}
	}
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, s service, op, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &smithy.SerializationError{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", s.targetName+"."+op)
	if c.credentials == nil {
		return errors.New("no credentials")
	}
	creds, err := c.credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), s.signingName, c.region, c.now()); err != nil {
		return fmt.Errorf("sign the request: %w", err)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &smithy.DeserializationError{Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return responseError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		// Not err itself: json's errors may quote the body, which holds the value read.
		return &smithy.DeserializationError{Err: errors.New("the answer is not the JSON expected")}
	}
	return nil
}

// responseError is the service's refusal as the SDK gives it: an
// *awshttp.ResponseError (status, request id) around a
// *smithy.GenericAPIError (code and message), which the
// retryer reads to tell throttling and server errors from the rest.
func responseError(resp *http.Response, body []byte) error {
	code, message, _ := restjson.GetErrorInfo(json.NewDecoder(bytes.NewReader(body)))
	if t := resp.Header.Get("X-Amzn-Errortype"); t != "" {
		code = restjson.SanitizeErrorCode(t)
	}
	if code == "" {
		code = "UnknownError"
		message = http.StatusText(resp.StatusCode)
	}
	fault := smithy.FaultClient
	if resp.StatusCode >= 500 {
		fault = smithy.FaultServer
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: code, Message: message, Fault: fault},
		},
		RequestID: resp.Header.Get("X-Amzn-Requestid"),
	}
}
