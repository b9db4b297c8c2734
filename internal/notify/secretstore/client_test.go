package secretstore

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestMoto reads what the SDK's own clients stored in moto, and gets the
// services' refusals as the SDK gives them.
func TestMoto(t *testing.T) {
	ctx := testenv.Context(t)
	cfg := testenv.AWSConfig(testenv.Moto(t))
	param, secret := "/"+testenv.Name(t, "secretstore/param"), testenv.Name(t, "secretstore/secret")
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param),
		Type: ssmtypes.ParameterTypeSecureString, Value: aws.String("the value")}); err != nil {
		t.Fatal(err)
	}
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret),
		SecretString: aws.String(`{"url": "u"}`)}); err != nil {
		t.Fatal(err)
	}
	c := NewFromConfig(cfg)

	p, err := c.GetParameter(ctx, &GetParameterInput{Name: param, WithDecryption: true})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	if want := (Parameter{Name: param, Type: ParameterTypeSecureString, Value: "the value"}); p.Parameter == nil || *p.Parameter != want {
		t.Errorf("parameter = %+v, want %+v", p.Parameter, want)
	}
	s, err := c.GetSecretValue(ctx, &GetSecretValueInput{SecretID: secret})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(s.SecretString) != `{"url": "u"}` {
		t.Errorf("secret string = %q", aws.ToString(s.SecretString))
	}

	_, err = c.GetParameter(ctx, &GetParameterInput{Name: "/absent"})
	assertAPIError(t, err, "SSM", "GetParameter", "ParameterNotFound")
	_, err = c.GetSecretValue(ctx, &GetSecretValueInput{SecretID: "absent"})
	assertAPIError(t, err, "Secrets Manager", "GetSecretValue", "ResourceNotFoundException")
}

func assertAPIError(t *testing.T, err error, service, op, code string) {
	t.Helper()
	var oe *smithy.OperationError
	var ae smithy.APIError
	if !errors.As(err, &oe) || oe.ServiceID != service || oe.OperationName != op {
		t.Errorf("error %v is not an operation error of %s %s", err, service, op)
	}
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("error %v does not carry the API error %s", err, code)
	}
}

// recorder is a service that answers from a list and records the requests.
type recorder struct {
	mu       sync.Mutex
	answers  []string // status code, space, body
	requests []*http.Request
	bodies   []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests, r.bodies = append(r.requests, req), append(r.bodies, string(body))
	status, answer, _ := strings.Cut(r.answers[0], " ")
	if len(r.answers) > 1 {
		r.answers = r.answers[1:]
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "req-1")
	code := map[string]int{"200": 200, "400": 400, "500": 500}[status]
	w.WriteHeader(code)
	_, _ = io.WriteString(w, answer)
}

// serve returns a client of a service answering answers in turn, retrying
// at once.
func serve(t *testing.T, answers ...string) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{answers: answers}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return NewFromConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}), rec
}

// A call is the AWS JSON 1.1 request the SDK would send, signed for the
// service in the region.
func TestRequest(t *testing.T) {
	c, rec := serve(t, `200 {"SecretString": "s", "Name": "n"}`)
	out, err := c.GetSecretValue(t.Context(), &GetSecretValueInput{SecretID: "jobwatch/slack"})
	if err != nil || aws.ToString(out.SecretString) != "s" {
		t.Fatalf("GetSecretValue = %+v, %v", out, err)
	}
	req := rec.requests[0]
	if req.Method != http.MethodPost || req.URL.Path != "/" {
		t.Errorf("request %s %s, want POST /", req.Method, req.URL.Path)
	}
	for header, want := range map[string]string{
		"Content-Type": "application/x-amz-json-1.1",
		"X-Amz-Target": "secretsmanager.GetSecretValue",
	} {
		if got := req.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if auth := req.Header.Get("Authorization"); !strings.Contains(auth, "Credential=AKIDEXAMPLE/") ||
		!strings.Contains(auth, "/eu-west-1/secretsmanager/aws4_request") || !strings.Contains(auth, "x-amz-target") {
		t.Errorf("Authorization = %q; want SigV4 for secretsmanager in eu-west-1, signing X-Amz-Target", auth)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(rec.bodies[0]), &body); err != nil || body["SecretId"] != "jobwatch/slack" || len(body) != 1 {
		t.Errorf("body = %s, want {\"SecretId\": \"jobwatch/slack\"}", rec.bodies[0])
	}
}

// What the retryer deems passing (throttling, server errors) is tried
// again, up to its attempts; the rest is not.
func TestRetries(t *testing.T) {
	const ok = `200 {"Parameter": {"Name": "/p", "Type": "String", "Value": "v"}}`
	throttled := `400 {"__type": "ThrottlingException", "message": "Rate exceeded"}`
	for name, tc := range map[string]struct {
		answers      []string
		wantRequests int
		wantCode     string
	}{
		"throttled, then taken":    {[]string{throttled, throttled, ok}, 3, ""},
		"server error, then taken": {[]string{`500 {"__type": "InternalServerError"}`, ok}, 2, ""},
		"throttled throughout":     {[]string{throttled}, 3, "ThrottlingException"},
		"refused":                  {[]string{`400 {"__type": "com.amazonaws.ssm#ParameterNotFound", "message": "no"}`}, 1, "ParameterNotFound"},
		"no body":                  {[]string{`400 `}, 1, "UnknownError"},
	} {
		t.Run(name, func(t *testing.T) {
			c, rec := serve(t, tc.answers...)
			out, err := c.GetParameter(t.Context(), &GetParameterInput{Name: "/p"})
			if len(rec.requests) != tc.wantRequests {
				t.Errorf("%d requests, want %d", len(rec.requests), tc.wantRequests)
			}
			if tc.wantCode == "" {
				if err != nil || out.Parameter.Value != "v" {
					t.Fatalf("GetParameter = %+v, %v", out, err)
				}
				return
			}
			assertAPIError(t, err, "SSM", "GetParameter", tc.wantCode)
		})
	}
}

func TestEndpoint(t *testing.T) {
	for name, tc := range map[string]struct {
		env    map[string]string
		cfg    aws.Config
		want   string
		wantSM string
	}{
		"regional":            {cfg: aws.Config{Region: "eu-west-1"}, want: "https://ssm.eu-west-1.amazonaws.com/", wantSM: "https://secretsmanager.eu-west-1.amazonaws.com/"},
		"China":               {cfg: aws.Config{Region: "cn-north-1"}, want: "https://ssm.cn-north-1.amazonaws.com.cn/", wantSM: "https://secretsmanager.cn-north-1.amazonaws.com.cn/"},
		"base endpoint":       {cfg: aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:5000/")}, want: "http://127.0.0.1:5000/", wantSM: "http://127.0.0.1:5000/"},
		"service's own":       {env: map[string]string{"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:1"}, cfg: aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:5000")}, want: "http://127.0.0.1:1/", wantSM: "http://127.0.0.1:5000/"},
		"configured ones off": {env: map[string]string{"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, cfg: aws.Config{Region: "eu-west-1"}, want: "https://ssm.eu-west-1.amazonaws.com/", wantSM: "https://secretsmanager.eu-west-1.amazonaws.com/"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_SSM", "")
			t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c := NewFromConfig(tc.cfg)
			if got, err := c.endpoint(ssmService); err != nil || got != tc.want {
				t.Errorf("SSM endpoint = %q, %v; want %q", got, err, tc.want)
			}
			if got, err := c.endpoint(secretsManagerService); err != nil || got != tc.wantSM {
				t.Errorf("Secrets Manager endpoint = %q, %v; want %q", got, err, tc.wantSM)
			}
		})
	}
	if _, err := NewFromConfig(aws.Config{}).GetParameter(t.Context(), &GetParameterInput{Name: "/p"}); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("without a region: %v", err)
	}
}
