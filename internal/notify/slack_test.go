package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
	"github.com/jobwatch/jobwatch/internal/notify/blockkit"
)

// fixedWebhook is a webhook source that always gives the same URL.
type fixedWebhook struct {
	url WebhookURL
	err error
}

func (f fixedWebhook) WebhookURL(context.Context) (WebhookURL, error) { return f.url, f.err }

// standIn starts the Slack stand-in and returns it with a sink posting to
// it every interval.
func standIn(t *testing.T, interval time.Duration) (*slacktest.Server, *Slack, *logBuffer) {
	t.Helper()
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	u, err := ParseWebhookURL(srv.URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := newLog()
	return srv, NewSlack(fixedWebhook{url: u}, SlackOptions{Region: "us-east-1", Interval: interval, Logger: log}), logs
}

func changes(statuses ...string) []Change {
	out := make([]Change, len(statuses))
	for i, s := range statuses {
		out[i] = Change{MessageID: fmt.Sprintf("msg-%d", i+1), StatusChange: change(i+1, s)}
	}
	return out
}

// assertNoToken fails when any text holds the stand-in's token.
func assertNoToken(t *testing.T, srv *slacktest.Server, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, srv.Token()) || strings.Contains(s, srv.URL()) {
			t.Errorf("%s shows the webhook URL: %s", what, s)
		}
	}
}

func errorTexts(errs []error) []string {
	var out []string
	for _, err := range errs {
		if err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// TestSlackPosts posts a change of each kind through the stand-in, which
// checks the payload as Slack would, and reads back what arrived.
func TestSlackPosts(t *testing.T) {
	srv, sink, _ := standIn(t, time.Millisecond)
	c := Change{MessageID: "m1", StatusChange: untrusted(t)}
	errs := sink.Publish(t.Context(), []Change{c})
	if errs[0] != nil {
		t.Fatalf("Publish: %v", errs[0])
	}
	posts := srv.Posts()
	if len(posts) != 1 || !posts[0].Accepted() {
		t.Fatalf("posts = %+v, want one accepted", posts)
	}
	m := posts[0].Message
	header, fields, texts := blockTexts(m)
	if header != ":x: UpdateBackendAuth failed on d1abc23/staging" {
		t.Errorf("header = %q", header)
	}
	if len(fields) != 6 || fields[0] != "*App*\n`d1abc23`" || fields[4] != "*Duration*\n4m 31s" {
		t.Errorf("fields = %q", fields)
	}
	if !strings.HasPrefix(texts[0], "*Error*\n```\nInvalid identity provider &lt;script&gt;") {
		t.Errorf("error section = %q", texts[0])
	}
	if want := "<https://us-east-1.console.aws.amazon.com/amplify/home?region=us-east-1#/d1abc23/YmFja2VuZA/staging|Open the backend environment in the Amplify console>"; texts[1] != want {
		t.Errorf("link = %q, want %q", texts[1], want)
	}
	if !strings.HasPrefix(m.Text, ":x: UpdateBackendAuth failed on d1abc23/staging (job 3c4d5e6f") {
		t.Errorf("fallback text = %q", m.Text)
	}
	// What a person sees: the error as the job gave it, markup and all.
	assertContains(t, "rendering", slacktest.Render(m),
		"❌ UpdateBackendAuth failed on d1abc23/staging\n",
		"  Environment: staging\n",
		"  Error\n    Invalid identity provider <script>alert('x')</script> & <!channel> <https://evil.example|click> *not bold*",
		"Open the backend environment in the Amplify console <https://us-east-1.console.aws.amazon.com/amplify/home?region=us-east-1#/d1abc23/YmFja2VuZA/staging>\n",
		"  text: ❌ UpdateBackendAuth failed on d1abc23/staging",
	)
}

// Posts to one webhook keep about a second apart: three take two seconds.
func TestSlackRateLimit(t *testing.T) {
	t.Parallel() // it waits on the clock
	srv, sink, _ := standIn(t, time.Second)
	start := time.Now()
	errs := sink.Publish(t.Context(), changes(contract.StatusCompleted, contract.StatusFailed, contract.StatusTimedOut))
	took := time.Since(start)
	if got := errorTexts(errs); len(got) > 0 {
		t.Fatalf("Publish: %v", got)
	}
	posts := srv.Posts()
	if len(posts) != 3 {
		t.Fatalf("%d posts, want 3", len(posts))
	}
	if took < 2*time.Second {
		t.Errorf("3 posts took %v, want at least 2s", took)
	}
	for i := 1; i < len(posts); i++ {
		if gap := posts[i].Received.Sub(posts[i-1].Received); gap < 900*time.Millisecond {
			t.Errorf("post %d came %v after the one before", i+1, gap)
		}
	}
}

// The pacer takes no slot it cannot use before the deadline.
func TestSlackRateLimitHonoursTheDeadline(t *testing.T) {
	t.Parallel() // it waits on the clock
	srv, sink, _ := standIn(t, time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	errs := sink.Publish(ctx, changes(contract.StatusCompleted, contract.StatusFailed, contract.StatusLost))
	if errs[0] != nil || errs[1] != nil {
		t.Errorf("the first two posts failed: %v", errorTexts(errs))
	}
	var nt *errNoTime
	if !errors.As(errs[2], &nt) || !strings.Contains(errs[2].Error(), "after the invocation's deadline") {
		t.Errorf("third = %v, want the rate limit's deadline error", errs[2])
	}
	if took := time.Since(start); took > 1400*time.Millisecond {
		t.Errorf("Publish took %v; the third post should fail at once", took)
	}
	if n := len(srv.Posts()); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}

func TestSlackHonoursRetryAfter(t *testing.T) {
	t.Parallel() // it waits on the clock
	for name, tc := range map[string]struct {
		limited    int
		retryAfter time.Duration
		deadline   time.Duration
		wantPosts  int
		wantErr    string // "" when delivered
		wantTook   time.Duration
	}{
		"429 then ok": {
			limited: 1, retryAfter: time.Second, deadline: 10 * time.Second,
			wantPosts: 2, wantTook: time.Second,
		},
		"Retry-After past the deadline": {
			limited: 1, retryAfter: 30 * time.Second, deadline: 3 * time.Second,
			wantPosts: 1, wantErr: "Slack answered 429 rate_limited: Slack is rate limiting the webhook (Retry-After 30s); waiting 30s to post again would pass the invocation's deadline",
		},
		"429 on every attempt": {
			limited: 5, retryAfter: time.Second, deadline: 10 * time.Second,
			wantPosts: 3, wantErr: "Slack answered 429 rate_limited: Slack is rate limiting the webhook (Retry-After 1s) (after 3 attempts)", wantTook: 2 * time.Second,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, sink, logs := standIn(t, 10*time.Millisecond)
			srv.RateLimit(tc.limited, tc.retryAfter)
			ctx, cancel := context.WithTimeout(t.Context(), tc.deadline)
			defer cancel()
			start := time.Now()
			errs := sink.Publish(ctx, changes(contract.StatusFailed))
			took := time.Since(start)
			if n := len(srv.Posts()); n != tc.wantPosts {
				t.Errorf("%d posts, want %d", n, tc.wantPosts)
			}
			if took < tc.wantTook {
				t.Errorf("took %v, want at least %v (Retry-After honoured)", took, tc.wantTook)
			}
			if tc.wantErr == "" {
				if errs[0] != nil {
					t.Fatalf("Publish: %v", errs[0])
				}
				if lines := logs.lines(t, "Slack did not take the message; posting it again"); len(lines) != tc.limited || lines[0]["wait"] != "1s" {
					t.Errorf("retry lines = %v", lines)
				}
				return
			}
			var se *SlackError
			if errs[0] == nil || !errors.As(errs[0], &se) || se.StatusCode != http.StatusTooManyRequests || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Fatalf("error = %v, want a 429 SlackError saying %q", errs[0], tc.wantErr)
			}
			if took > 2500*time.Millisecond {
				t.Errorf("took %v; a Retry-After past the deadline must fail at once", took)
			}
			assertNoToken(t, srv, "the error", errs[0].Error())
		})
	}
}

// A change Slack refuses fails, with Slack's reason in words and never the
// URL; what Slack may take later is retried first.
func TestSlackErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		status    int
		code      string
		times     int
		wantPosts int
		wantErr   string
	}{
		"webhook removed": {status: 404, code: "no_service", times: 1, wantPosts: 1,
			wantErr: "Slack answered 404 no_service: the webhook is disabled, removed or mistyped"},
		"channel archived": {status: 410, code: "channel_is_archived", times: 1, wantPosts: 1,
			wantErr: "Slack answered 410 channel_is_archived: the webhook's channel is archived"},
		"bad payload": {status: 400, code: "invalid_payload", times: 1, wantPosts: 1,
			wantErr: "Slack answered 400 invalid_payload: the message is not valid JSON or Block Kit"},
		"posting restricted": {status: 403, code: "action_prohibited", times: 1, wantPosts: 1,
			wantErr: "Slack answered 403 action_prohibited"},
		"a body that is not a code is not repeated": {status: 400, code: "<html>" + "x", times: 1, wantPosts: 1,
			wantErr: "Slack answered 400 Bad Request"},
		"server error, then ok": {status: 500, code: "", times: 1, wantPosts: 2},
		"server error on every attempt": {status: 503, code: "", times: 3, wantPosts: 3,
			wantErr: "Slack answered 503 Service Unavailable (after 3 attempts)"},
	} {
		t.Run(name, func(t *testing.T) {
			srv, sink, logs := standIn(t, time.Millisecond)
			sink.opts.MaxAttempts = 3
			srv.Fail(tc.times, tc.status, tc.code)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			errs := sink.Publish(ctx, changes(contract.StatusCompleted))
			if n := len(srv.Posts()); n != tc.wantPosts {
				t.Errorf("%d posts, want %d", n, tc.wantPosts)
			}
			if tc.wantErr == "" {
				if errs[0] != nil {
					t.Errorf("Publish: %v", errs[0])
				}
				return
			}
			if errs[0] == nil || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", errs[0], tc.wantErr)
			}
			if !strings.HasPrefix(errs[0].Error(), "post d1abc23/dev/00000000-0000-4000-8000-000000000001/COMPLETED to Slack: ") {
				t.Errorf("error does not say what was posted: %v", errs[0])
			}
			assertNoToken(t, srv, "the error", errs[0].Error())
			assertNoToken(t, srv, "the logs", logs.String())
		})
	}
}

// A post that never reaches Slack fails without the URL net/http quotes.
func TestSlackUnreachable(t *testing.T) {
	srv, sink, logs := standIn(t, time.Millisecond)
	sink.opts.MaxAttempts = 2
	srv.Close()
	errs := sink.Publish(t.Context(), changes(contract.StatusCompleted))
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "Post to the webhook: dial tcp 127.0.0.1:") ||
		!strings.Contains(errs[0].Error(), "(after 2 attempts)") {
		t.Fatalf("error = %v, want the dial failure after 2 attempts", errs[0])
	}
	assertNoToken(t, srv, "the error", errs[0].Error())
	assertNoToken(t, srv, "the logs", logs.String())
}

// Without a URL, every change fails with the reason.
func TestSlackWithoutWebhook(t *testing.T) {
	errGone := errors.New("read the Slack webhook URL from ssm:/jobwatch/slack-webhook: ParameterNotFound")
	sink := NewSlack(fixedWebhook{err: errGone}, SlackOptions{})
	errs := sink.Publish(t.Context(), changes(contract.StatusCompleted, contract.StatusFailed))
	for i, err := range errs {
		if !errors.Is(err, errGone) {
			t.Errorf("change %d: %v, want the read's error", i, err)
		}
	}
}

// Only routes: Slack gets the terminal statuses by default, SNS all.
func TestOnlyRoutesStatuses(t *testing.T) {
	var got []string
	record := sinkFunc{"slack", func(cs []Change) []error {
		for _, c := range cs {
			got = append(got, c.Status)
		}
		errs := make([]error, len(cs))
		for i, c := range cs {
			if c.Status == contract.StatusFailed {
				errs[i] = errors.New("refused")
			}
		}
		return errs
	}}
	all := changes(contract.StatusCompleted, contract.StatusStillRunning, contract.StatusFailed, contract.StatusLost)
	errs := Only(DefaultSlackStatuses, record).Publish(t.Context(), all)
	if want := []string{"COMPLETED", "FAILED", "LOST"}; !slices.Equal(got, want) {
		t.Errorf("the sink got %v, want %v", got, want)
	}
	if errs[0] != nil || errs[1] != nil || errs[2] == nil || errs[3] != nil {
		t.Errorf("errs = %v; want the FAILED one's error in its place", errs)
	}
	if name := Only(nil, record).Name(); name != "slack" {
		t.Errorf("Name() = %q", name)
	}
}

// The still-running fixture never reaches Slack with the default routing.
func TestSlackDefaultRoutingSkipsStillRunning(t *testing.T) {
	srv, sink, _ := standIn(t, time.Millisecond)
	log, _ := newLog()
	ev := readBatch(t, "still-running.json")
	resp, err := New(log, Only(DefaultSlackStatuses, sink)).HandleSQS(t.Context(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("HandleSQS = %+v, %v", resp, err)
	}
	if n := len(srv.Posts()); n != 0 {
		t.Errorf("%d posts for STILL_RUNNING, want none", n)
	}
	if _, err := New(log, Only([]string{contract.StatusStillRunning}, sink)).HandleSQS(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, ":hourglass_flowing_sand: CloneBackend still running on d1abc23/prod") {
		t.Errorf("messages when configured = %+v", msgs)
	}
}

// The stand-in refuses what Slack would, so that the tests mean something.
func TestStandInRefusesLikeSlack(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	post := func(url, contentType, body string) (int, string) {
		resp, err := http.Post(url, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	long := strings.Repeat("x", 151)
	for name, tc := range map[string]struct {
		url, contentType, body string
		wantStatus             int
		wantAnswer             string
	}{
		"ok":              {srv.URL(), "application/json", `{"text":"hi"}`, 200, "ok"},
		"wrong token":     {strings.TrimSuffix(srv.URL(), srv.Token()) + "nope", "application/json", `{"text":"hi"}`, 404, "no_service"},
		"not JSON":        {srv.URL(), "application/json", `{`, 400, "invalid_payload"},
		"form":            {srv.URL(), "application/x-www-form-urlencoded", `payload=x`, 400, "invalid_payload"},
		"empty":           {srv.URL(), "application/json", `{}`, 400, "no_text"},
		"header too long": {srv.URL(), "application/json", `{"blocks":[{"type":"header","text":{"type":"plain_text","text":"` + long + `"}}]}`, 400, "invalid_blocks"},
		"mrkdwn header":   {srv.URL(), "application/json", `{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]}`, 400, "invalid_blocks"},
		"11 fields": {srv.URL(), "application/json", `{"blocks":[{"type":"section","fields":[` +
			strings.TrimSuffix(strings.Repeat(`{"type":"mrkdwn","text":"x"},`, 11), ",") + `]}]}`, 400, "invalid_blocks"},
		"unknown field":   {srv.URL(), "application/json", `{"blocks":[{"type":"section","field":[{"type":"mrkdwn","text":"x"}]}]}`, 400, "invalid_blocks"},
		"emoji on mrkdwn": {srv.URL(), "application/json", `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"x","emoji":true}}]}`, 400, "invalid_blocks"},
		"empty text":      {srv.URL(), "application/json", `{"blocks":[{"type":"context","elements":[{"type":"mrkdwn","text":""}]}]}`, 400, "invalid_blocks"},
		"unknown block":   {srv.URL(), "application/json", `{"blocks":[{"type":"headline","text":{"type":"plain_text","text":"x"}}]}`, 400, "invalid_blocks"},
	} {
		t.Run(name, func(t *testing.T) {
			status, answer := post(tc.url, tc.contentType, tc.body)
			if status != tc.wantStatus || answer != tc.wantAnswer {
				t.Errorf("answer = %d %q, want %d %q", status, answer, tc.wantStatus, tc.wantAnswer)
			}
		})
	}
}

// Watch streams what arrived before and after it was called.
func TestStandInWatch(t *testing.T) {
	srv, sink, _ := standIn(t, time.Millisecond)
	if errs := sink.Publish(t.Context(), changes(contract.StatusCompleted)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	posts := srv.Watch(ctx)
	go func() { _ = sink.Publish(ctx, changes(contract.StatusFailed)) }()
	var got []blockkit.Message
	for p := range posts {
		got = append(got, p.Message)
		if len(got) == 2 {
			break
		}
	}
	if len(got) != 2 || !strings.Contains(got[0].Text, "completed") || !strings.Contains(got[1].Text, "failed") {
		t.Errorf("watched %+v", got)
	}
	if msgs, err := srv.WaitFor(ctx, 2); err != nil || len(msgs) != 2 {
		t.Errorf("WaitFor = %d messages, %v", len(msgs), err)
	}
}
