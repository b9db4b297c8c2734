package amplify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// labelCase is one call with a bad URI label, and what the refusal says.
type labelCase struct {
	call func(context.Context, *amplify.Client) error
	// value is the bad label, which the error must not quote (empty where
	// the reason itself spells it: "." and "..").
	value string
	// want is the member and the reason, as the error reads.
	want string
}

func deleteAPI(app, env string) func(context.Context, *amplify.Client) error {
	return func(ctx context.Context, c *amplify.Client) error {
		_, err := c.DeleteBackendAPI(ctx, &amplify.DeleteBackendAPIInput{
			AppId: aws.String(app), BackendEnvironmentName: aws.String(env), ResourceName: aws.String("api"),
		})
		return err
	}
}

func getJob(app, env, job string) func(context.Context, *amplify.Client) error {
	return func(ctx context.Context, c *amplify.Client) error {
		_, err := c.GetBackendJob(ctx, &amplify.GetBackendJobInput{
			AppId: aws.String(app), BackendEnvironmentName: aws.String(env), JobId: aws.String(job),
		})
		return err
	}
}

var labelCases = map[string]labelCase{
	// Sent today as POST /backend/d1abc23/api/../remove.
	"environment ..": {call: deleteAPI("d1abc23", ".."),
		want: `member DeleteBackendAPIInput.BackendEnvironmentName must not be "." or ".."`},
	"job id .": {call: getJob("d1abc23", "dev", "."),
		want: `member GetBackendJobInput.JobId must not be "." or ".."`},
	"session id ..": {want: `member GetTokenInput.SessionId must not be "." or ".."`,
		call: func(ctx context.Context, c *amplify.Client) error {
			_, err := c.GetToken(ctx, &amplify.GetTokenInput{AppId: aws.String("d1abc23"), SessionId: aws.String("..")})
			return err
		}},
	"slash": {call: deleteAPI("d1abc23", "dev/../prod"), value: "dev/../prod",
		want: `member DeleteBackendAPIInput.BackendEnvironmentName must not contain "/"`},
	"percent": {call: getJob("d1abc23", "dev", "j%2F1"), value: "j%2F1",
		want: `member GetBackendJobInput.JobId must not contain "%"`},
	"space": {call: getJob("d1abc23", "dev prod", "j1"), value: "dev prod",
		want: "member GetBackendJobInput.BackendEnvironmentName must not contain whitespace"},
	"newline": {call: getJob("d1abc23", "dev", "j1\n"), value: "j1\n",
		want: "member GetBackendJobInput.JobId must not contain whitespace"},
	"control character": {call: getJob("d1abc23", "dev", "j\x001"), value: "j\x001",
		want: "member GetBackendJobInput.JobId must not contain control characters"},
	"empty": {call: deleteAPI("d1abc23", ""),
		want: "member DeleteBackendAPIInput.BackendEnvironmentName must not be empty"},
	"app id with capitals": {call: getJob("D1ABC23", "dev", "j1"), value: "D1ABC23",
		want: "member GetBackendJobInput.AppId must be lowercase letters and digits only"},
	"app id with a dash": {call: getJob("d1abc23-x", "dev", "j1"), value: "d1abc23-x",
		want: "member GetBackendJobInput.AppId must be lowercase letters and digits only"},
	// A body member named like a label comes back as one when the job
	// it starts is looked up.
	"app id in a body": {value: "team/app%1", want: `member CreateBackendInput.AppId must not contain "/"`,
		call: func(ctx context.Context, c *amplify.Client) error {
			_, err := c.CreateBackend(ctx, &amplify.CreateBackendInput{
				AppId: aws.String("team/app%1"), AppName: aws.String("odd"), BackendEnvironmentName: aws.String("dev"),
			})
			return err
		}},
	"environment in a body": {want: `member CreateBackendAPIInput.BackendEnvironmentName must not be "." or ".."`,
		call: func(ctx context.Context, c *amplify.Client) error {
			_, err := c.CreateBackendAPI(ctx, &amplify.CreateBackendAPIInput{AppId: aws.String("d1abc23"),
				BackendEnvironmentName: aws.String(".."), ResourceName: aws.String("api"), ResourceConfig: &types.BackendAPIResourceConfig{}})
			return err
		}},
	"app id with a dot": {call: getJob("d1.abc", "dev", "j1"), value: "d1.abc",
		want: "member GetBackendJobInput.AppId must be lowercase letters and digits only"},
}

// countingServer answers {} to every request and counts them.
func countingServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath())
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// TestLabelsRefusedBeforeSend checks a URI label that could change the
// request's path, or is no id at all, is refused by the client as the
// SDK refuses a missing member, naming the member, without quoting it,
// and with no request sent.
func TestLabelsRefusedBeforeSend(t *testing.T) {
	for name, tc := range labelCases {
		t.Run(name, func(t *testing.T) {
			srv, sent := countingServer(t)
			err := tc.call(context.Background(), newTestClient(srv.URL))
			var invalid smithy.InvalidParamsError
			if !errors.As(err, &invalid) {
				t.Fatalf("err = %v, want a smithy.InvalidParamsError", err)
			}
			var opErr *smithy.OperationError
			if !errors.As(err, &opErr) || !strings.HasPrefix(tc.want, "member "+opErr.Operation()+"Input.") {
				t.Errorf("err = %v, want an OperationError for the input's operation", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
			if tc.value != "" && strings.Contains(err.Error(), tc.value) {
				t.Errorf("err = %q quotes the label's value", err)
			}
			if got := sent(); len(got) != 0 {
				t.Errorf("requests sent for a refused label: %v", got)
			}
		})
	}
}

// TestLabelsStillEscaped checks the rules refuse only what they name: a
// label with reserved and non-ASCII characters goes out escaped, in one
// segment, under an endpoint that has a path of its own.
func TestLabelsStillEscaped(t *testing.T) {
	srv, sent := countingServer(t)
	c := newTestClient(srv.URL + "/prefix/")
	if err := getJob("d1abc23", "feature+login:é", "j.1~x")(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	want := "GET /prefix/backend/d1abc23/job/feature%2Blogin%3A%C3%A9/j.1~x"
	if got := sent(); len(got) != 1 || got[0] != want {
		t.Errorf("sent %v, want [%s]", got, want)
	}
}

// TestLabelErrorsListEveryMember checks every bad label of one input is
// reported, as the SDK lists every missing member.
func TestLabelErrorsListEveryMember(t *testing.T) {
	srv, sent := countingServer(t)
	err := getJob("D1", "..", "a/b")(context.Background(), newTestClient(srv.URL))
	var invalid smithy.InvalidParamsError
	if !errors.As(err, &invalid) || len(invalid.Errs()) != 3 {
		t.Fatalf("err = %v, want 3 validation errors", err)
	}
	for _, member := range []string{"AppId", "BackendEnvironmentName", "JobId"} {
		if !strings.Contains(err.Error(), "GetBackendJobInput."+member+" must") {
			t.Errorf("err = %q does not name %s", err, member)
		}
	}
	if len(sent()) != 0 {
		t.Error("a request was sent")
	}
}
