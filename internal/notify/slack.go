package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// webhookSource gives the webhook URL to post to; *WebhookSecret is one.
type webhookSource interface {
	WebhookURL(ctx context.Context) (WebhookURL, error)
}

// SlackOptions configure the Slack sink.
type SlackOptions struct {
	// Region is the jobs' region, for the links to the Amplify console.
	Region string
	// Interval is the least time between two posts: Slack takes about
	// one message per second per webhook. 1s when 0.
	Interval time.Duration
	// MaxAttempts bounds the posts of one message when Slack answers 429
	// or 5xx, or the connection fails; 3 when 0. A retry waits for the
	// 429's Retry-After, or else Interval.
	MaxAttempts int
	// HTTPClient posts; when nil, a client with a 10 s timeout that
	// does not follow redirects (a webhook never redirects).
	HTTPClient *http.Client
	// Logger receives a line for each post retried; slog.Default when nil.
	Logger *slog.Logger
}

// Slack is the sink posting each status change to a Slack incoming
// webhook as a Block Kit message (see SlackMessage). A change Slack did
// not take is failed, so its message is redelivered.
type Slack struct {
	webhook webhookSource
	opts    SlackOptions
	pacer   *pacer
}

// NewSlack returns the Slack sink posting to the URL webhook gives,
// usually a *WebhookSecret.
func NewSlack(webhook webhookSource, opts SlackOptions) *Slack {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Slack{webhook: webhook, opts: opts, pacer: newPacer(opts.Interval)}
}

// Name implements Sink.
func (*Slack) Name() string { return "slack" }

// Publish implements Sink: it posts the changes one by one, in order,
// at most one per Interval.
func (s *Slack) Publish(ctx context.Context, changes []Change) []error {
	errs := make([]error, len(changes))
	if len(changes) == 0 {
		return errs
	}
	u, err := s.webhook.WebhookURL(ctx)
	if err != nil {
		for i, c := range changes {
			errs[i] = fmt.Errorf("post %s to Slack: %w", c.EventKey, err)
		}
		return errs
	}
	for i, c := range changes {
		if err := s.send(ctx, u, c); err != nil {
			errs[i] = fmt.Errorf("post %s to Slack: %w", c.EventKey, redact(err, u))
		}
	}
	return errs
}

// send posts one change, retrying what Slack or the network may let
// through later, within ctx's deadline.
func (s *Slack) send(ctx context.Context, u WebhookURL, c Change) error {
	body, err := json.Marshal(SlackMessage(c.StatusChange, s.opts.Region))
	if err != nil {
		return refusal{fmt.Errorf("encode the message: %w", err)}
	}
	for attempt := 1; ; attempt++ {
		if err := s.pacer.wait(ctx); err != nil {
			return err
		}
		err := s.post(ctx, u, body)
		if err == nil {
			return nil
		}
		var se *SlackError
		isSlack := errors.As(err, &se)
		if (isSlack && !se.Temporary()) || ctx.Err() != nil {
			return err
		}
		if attempt == s.opts.MaxAttempts {
			return fmt.Errorf("%w (after %d attempts)", err, attempt)
		}
		wait := s.opts.Interval
		if isSlack && se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		resume := time.Now().Add(wait)
		s.pacer.holdUntil(resume)
		if deadline, ok := ctx.Deadline(); ok && resume.After(deadline) {
			return fmt.Errorf("%w; waiting %v to post again would pass the invocation's deadline", err, wait)
		}
		s.opts.Logger.WarnContext(jobContext(ctx, c), "Slack did not take the message; posting it again",
			"eventKey", c.EventKey, "attempt", attempt, "wait", wait.String(), "error", err.Error())
	}
}

// post makes one request. Its errors never hold the URL: net/http's
// *url.Error, which quotes it, is unwrapped.
func (s *Slack) post(ctx context.Context, u WebhookURL, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.Reveal(), bytes.NewReader(body))
	if err != nil {
		return errors.New("build the request to the webhook")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("%s to the webhook: %w", ue.Op, ue.Err)
		}
		return errors.New("post to the webhook failed")
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return newSlackError(resp, answer)
}

// SlackError is Slack's refusal of a post: the HTTP status and the
// error code Slack's text body names (invalid_payload, no_service,
// channel_is_archived, …).
type SlackError struct {
	StatusCode int
	// Code is Slack's error code, "" when the body was not one.
	Code string
	// RetryAfter is how long a 429 asks to wait.
	RetryAfter time.Duration
}

// isSlackCode reports whether body looks like Slack's error codes
// (invalid_payload, …); anything else is not repeated, so that a body can
// never carry secrets into logs.
func isSlackCode(body string) bool {
	if body == "" || len(body) > 64 {
		return false
	}
	for _, r := range body {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

func newSlackError(resp *http.Response, body []byte) *SlackError {
	e := &SlackError{StatusCode: resp.StatusCode}
	if code := strings.TrimSpace(string(body)); isSlackCode(code) {
		e.Code = code
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// slackHints say what Slack's error codes for incoming webhooks mean
// and what to do.
var slackHints = map[string]string{
	"invalid_payload":                   "the message is not valid JSON or Block Kit",
	"invalid_blocks":                    "Slack refused the message's blocks",
	"invalid_blocks_format":             "Slack refused the message's blocks",
	"no_text":                           "the message has no text",
	"too_many_attachments":              "the message has too many attachments",
	"no_service":                        "the webhook is disabled, removed or mistyped; create one and store its URL",
	"no_service_id":                     "the webhook URL is incomplete",
	"no_team":                           "the webhook's Slack workspace was not found",
	"team_disabled":                     "the webhook's Slack workspace is disabled",
	"invalid_token":                     "the webhook URL's token is invalid or revoked",
	"channel_not_found":                 "the webhook's channel was deleted",
	"channel_is_archived":               "the webhook's channel is archived",
	"action_prohibited":                 "a workspace admin restricted posting to the channel",
	"posting_to_general_channel_denied": "only admins may post to the webhook's channel",
	"user_not_found":                    "the webhook's user was not found",
	"rate_limited":                      "Slack is rate limiting the webhook",
}

// Error reads like "Slack answered 404 no_service: the webhook is …".
func (e *SlackError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Slack answered %d", e.StatusCode)
	switch {
	case e.Code != "":
		b.WriteString(" " + e.Code)
		if hint := slackHints[e.Code]; hint != "" {
			b.WriteString(": " + hint)
		}
	case e.StatusCode == http.StatusTooManyRequests:
		b.WriteString(": Slack is rate limiting the webhook")
	default:
		b.WriteString(" " + http.StatusText(e.StatusCode))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (Retry-After %v)", e.RetryAfter)
	}
	return b.String()
}

// Temporary reports whether posting again later may succeed: Slack's
// rate limit and server errors.
func (e *SlackError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// RetryableError reports whether posting again later may succeed
// (Temporary): notify decides with it between a delayed copy of the
// message and the dead-letter queue (a webhook gone, 404 or 410, is
// poison).
func (e *SlackError) RetryableError() bool { return e.Temporary() }

// HTTPStatusCode is the status of Slack's answer.
func (e *SlackError) HTTPStatusCode() int { return e.StatusCode }

// redact is the last guard: an error naming the URL, or its path where
// the token is, loses its text. post's errors never do.
func redact(err error, u WebhookURL) error {
	raw := u.Reveal()
	if raw == "" {
		return err
	}
	msg := err.Error()
	secrets := []string{raw}
	if p, perr := url.Parse(raw); perr == nil && len(p.Path) > 1 {
		secrets = append(secrets, p.Path, url.PathEscape(p.Path))
	}
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "/***")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
