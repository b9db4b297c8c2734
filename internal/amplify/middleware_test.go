package amplify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

var errStackCaptured = errors.New("stack captured")

// TestMiddlewareStack pins the stack of an operation, step by step, in the
// order a generated aws-sdk-go-v2 REST-JSON client builds it.
func TestMiddlewareStack(t *testing.T) {
	var captured string
	_, err := newTestClient("http://127.0.0.1:1").GetBackendJob(context.Background(), getJobInput(), func(o *amplify.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			captured = s.String()
			return errStackCaptured
		})
	})
	if !errors.Is(err, errStackCaptured) {
		t.Fatalf("err = %v, want the capture to stop the call", err)
	}
	want := []string{
		"Initialize stack step", "RegisterServiceMetadata", "SetLogger", "OperationInputValidation",
		"Serialize stack step", "OperationSerializer",
		"Build stack step", "ClientRequestID", "ComputeContentLength", "UserAgent", "RecursionDetection",
		"Finalize stack step", "Retry", "ComputePayloadHash", "Signing",
		"Deserialize stack step", "AddRawResponseToMetadata", "ErrorCloseResponseBody", "CloseResponseBody",
		"ResponseErrorWrapper", "RequestIDRetriever", "OperationDeserializer", "RecordResponseTiming",
	}
	var got []string
	for _, line := range strings.Split(captured, "\n")[1:] {
		if line = strings.TrimSpace(line); line != "" {
			got = append(got, line)
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("stack:\n got %v\nwant %v", got, want)
	}
}

// seenRequest is what a test server saw of one request.
type seenRequest struct {
	header        http.Header
	contentLength int64
	body          string
}

// recordOne starts a server that answers {} and records the last request.
func recordOne(t *testing.T) (*httptest.Server, *seenRequest) {
	t.Helper()
	seen := &seenRequest{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.header, seen.contentLength, seen.body = r.Header.Clone(), r.ContentLength, string(b)
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// TestRecursionDetection checks a call made inside a Lambda function
// carries the function's trace id, so a loop through the service shows in
// X-Ray, and that no trace header is made up elsewhere.
func TestRecursionDetection(t *testing.T) {
	tests := map[string]struct {
		function, trace string
		want            string
	}{
		"in Lambda with a trace": {function: "jobwatch-submit", trace: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
			want: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"},
		"trace characters escaped": {function: "jobwatch-submit", trace: "Root=1-abc;Lineage=a b", want: "Root=1-abc;Lineage=a%20b"},
		"not in Lambda":            {trace: "Root=1-5759e988-bd862e3fe1be46a994272793"},
		"in Lambda without trace":  {function: "jobwatch-submit"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			setOrUnset(t, "AWS_LAMBDA_FUNCTION_NAME", tc.function)
			setOrUnset(t, "_X_AMZN_TRACE_ID", tc.trace)
			srv, seen := recordOne(t)
			if _, err := newTestClient(srv.URL).GetBackendJob(context.Background(), getJobInput()); err != nil {
				t.Fatal(err)
			}
			if got := seen.header.Get("X-Amzn-Trace-Id"); got != tc.want {
				t.Errorf("X-Amzn-Trace-Id = %q, want %q", got, tc.want)
			}
		})
	}
}

// setOrUnset sets an environment variable for the test, or removes it
// when value is empty (the SDK looks at whether it is set at all).
func setOrUnset(t *testing.T, name, value string) {
	t.Helper()
	t.Setenv(name, value) // restores the old value after the test
	if value == "" {
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStockHeaders checks the headers the stock middlewares add: the
// invocation id shared by a call's attempts, the User-Agent naming the API
// and the retry mode, and a Content-Length matching the body.
func TestStockHeaders(t *testing.T) {
	srv, seen := recordOne(t)
	c := newTestClient(srv.URL, func(o *amplify.Options) { o.AppID = "jobwatch" })
	_, err := c.CloneBackend(context.Background(), &amplify.CloneBackendInput{
		AppId: aws.String("d1abc23"), BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("pr-42"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if id := seen.header.Get("Amz-Sdk-Invocation-Id"); !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(id) {
		t.Errorf("amz-sdk-invocation-id = %q, want a UUID", id)
	}
	ua := seen.header.Get("User-Agent")
	for _, part := range []string{"api/amplifybackend#2020-08-11", "app/jobwatch", "m/"} {
		if !strings.Contains(ua, part) {
			t.Errorf("User-Agent %q lacks %q", ua, part)
		}
	}
	if m := regexp.MustCompile(`\bm/([A-Za-z0-9+,-]*)`).FindStringSubmatch(ua); m == nil || !strings.Contains(m[1], "E") {
		t.Errorf("User-Agent %q does not name the standard retry mode (feature E)", ua)
	}
	if seen.contentLength != int64(len(seen.body)) || seen.header.Get("Transfer-Encoding") != "" || seen.body == "" {
		t.Errorf("Content-Length %d for a body of %d bytes (Transfer-Encoding %q)", seen.contentLength, len(seen.body), seen.header.Get("Transfer-Encoding"))
	}
}
