package emulator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// epoch is where the tests' virtual clocks start.
var epoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	demoApp   = "d1abc23" // from testdata/state.json, with environments dev and staging
	longAfter = 24 * time.Hour
)

// fixture is an emulator on a virtual clock, preloaded with
// testdata/state.json, and a client for it.
type fixture struct {
	srv    *emulator.Server
	clock  *emulator.ManualClock
	client *amplify.Client
	// values carries ids from a case's setup to its call.
	values map[string]string
}

// start runs an emulator for cfg; a nil Clock becomes a ManualClock at
// epoch and a nil State the demo state.
func start(t *testing.T, cfg emulator.Config) *fixture {
	t.Helper()
	clock, manual := cfg.Clock.(*emulator.ManualClock)
	if cfg.Clock == nil {
		clock, manual = emulator.NewManualClock(epoch), true
		cfg.Clock = clock
	}
	if !manual {
		clock = nil
	}
	if cfg.State == nil {
		state, err := emulator.LoadState("testdata/state.json")
		if err != nil {
			t.Fatal(err)
		}
		cfg.State = state
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &fixture{srv: srv, clock: clock, client: newClient(srv.URL), values: map[string]string{}}
}

// newClient is the project's client with static credentials and no
// retries, so that every fault the emulator answers reaches the test.
func newClient(url string) *amplify.Client {
	return amplify.New(amplify.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(url),
		Retryer:      aws.NopRetryer{},
	})
}

// rawResponse is an HTTP answer with its JSON body decoded.
type rawResponse struct {
	status int
	header http.Header
	body   map[string]any
}

// do sends a request as it is, signed for service when service is not "".
func do(t *testing.T, method, url, body, service string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if service != "" {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := rawResponse{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, url, err, b)
		}
	}
	return r
}

// wantHTTPStatus fails the test unless err came with the HTTP status want.
func wantHTTPStatus(t *testing.T, err error, want int) {
	t.Helper()
	if re := asError[*awshttp.ResponseError](t, err); re.HTTPStatusCode() != want {
		t.Errorf("HTTP %d, want %d", re.HTTPStatusCode(), want)
	}
}

// asError returns err as a T, failing the test when it is not one.
func asError[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want a %T", err, err, target)
	}
	return target
}
