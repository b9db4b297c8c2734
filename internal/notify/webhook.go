package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/internal/notify/secretstore"
)

// WebhookURL is a Slack incoming-webhook URL. Whoever has it can post to
// the channel, so it is a secret: it prints, logs and marshals as
// "https://hooks.slack.com/services/***", and its value is reachable only
// through Reveal. The zero WebhookURL is no URL.
type WebhookURL struct {
	// A pointer, so that even %+v of a struct holding a WebhookURL in an
	// unexported field (where fmt cannot call its methods) prints an
	// address, not the URL.
	s *webhookSecret
}

type webhookSecret struct {
	url      string
	redacted string
}

// Reveal returns the URL, for the one place that needs it: the request.
func (w WebhookURL) Reveal() string {
	if w.s == nil {
		return ""
	}
	return w.s.url
}

// IsZero reports whether w holds no URL.
func (w WebhookURL) IsZero() bool { return w.s == nil }

// String returns the redacted URL: scheme, host and "/services/***".
func (w WebhookURL) String() string {
	if w.s == nil {
		return "<no webhook URL>"
	}
	return w.s.redacted
}

// GoString implements fmt.GoStringer (%#v), redacted.
func (w WebhookURL) GoString() string { return w.String() }

// Format implements fmt.Formatter: every verb prints the redacted URL.
func (w WebhookURL) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(w.String())) }

// LogValue implements slog.LogValuer, redacted.
func (w WebhookURL) LogValue() slog.Value { return slog.StringValue(w.String()) }

// MarshalText implements encoding.TextMarshaler, redacted, so that JSON
// and YAML encoders never write the URL either.
func (w WebhookURL) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// The hosts of Slack's incoming webhooks: Slack, and Slack GovSlack.
var webhookHosts = []string{"hooks.slack.com", "hooks.slack-gov.com"}

// ErrWebhookRefused is the error of ParseWebhookURL for a value that is not
// a Slack incoming-webhook URL.
var ErrWebhookRefused = errors.New("not a Slack incoming-webhook URL")

// ParseWebhookURL checks that raw is a Slack incoming-webhook URL,
// https://hooks.slack.com/services/… or https://hooks.slack-gov.com/services/…,
// so that notify never posts job details elsewhere. allowLocal also admits
// http://127.0.0.1:<port>/…, for a local stand-in; it is off unless
// SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL says otherwise. Errors never contain
// the value, which may be a secret however wrong it is.
func ParseWebhookURL(raw string, allowLocal bool) (WebhookURL, error) {
	raw = strings.TrimSpace(raw)
	refuse := func(why string) (WebhookURL, error) {
		want := "https://hooks.slack.com/services/…"
		if allowLocal {
			want += " or http://127.0.0.1:<port>/…"
		}
		return WebhookURL{}, fmt.Errorf("%w (%s; want %s; the value is not shown)", ErrWebhookRefused, why, want)
	}
	if raw == "" {
		return refuse("it is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the input: leave them out.
		return refuse("it does not parse as a URL")
	}
	switch {
	case u.User != nil:
		return refuse("it carries user information")
	case u.RawQuery != "" || u.Fragment != "":
		return refuse("it has a query or fragment")
	case allowLocal && u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Port() != "":
		return newWebhookURL(u, raw), nil
	case u.Scheme != "https":
		return refuse("the scheme is not https")
	case !hostAllowed(u.Host):
		return refuse("the host is not a Slack webhook host")
	case !strings.HasPrefix(u.Path, "/services/") || len(u.Path) == len("/services/"):
		return refuse("the path is not /services/…")
	}
	return newWebhookURL(u, raw), nil
}

func hostAllowed(host string) bool {
	for _, h := range webhookHosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

func newWebhookURL(u *url.URL, raw string) WebhookURL {
	redacted := u.Scheme + "://" + u.Host + "/***"
	if strings.HasPrefix(u.Path, "/services/") {
		redacted = u.Scheme + "://" + u.Host + "/services/***"
	}
	return WebhookURL{&webhookSecret{url: raw, redacted: redacted}}
}

// Where a webhook URL can be stored.
const (
	StoreSSM            = "ssm"
	StoreSecretsManager = "secretsmanager"
)

// SecretRef names the SSM parameter or Secrets Manager secret holding the
// webhook URL, as SLACK_WEBHOOK_PARAMETER gives it:
// "ssm:/jobwatch/slack-webhook" or "secretsmanager:jobwatch/slack". The
// name is not secret; the value it names is.
type SecretRef struct {
	// Store is StoreSSM or StoreSecretsManager.
	Store string
	// Name is the parameter's name, or the secret's name or ARN.
	Name string
}

// ParseSecretRef reads "ssm:<parameter name>" or
// "secretsmanager:<secret name or ARN>".
func ParseSecretRef(s string) (SecretRef, error) {
	store, name, ok := strings.Cut(strings.TrimSpace(s), ":")
	name = strings.TrimSpace(name)
	switch {
	case strings.HasPrefix(s, "https:") || strings.HasPrefix(s, "http:"):
		// Someone put the URL itself here: do not repeat it.
		return SecretRef{}, errors.New("is a URL; want the name of the SSM parameter or secret holding the webhook URL, such as ssm:/jobwatch/slack-webhook (the value is not shown)")
	case !ok || name == "" || (store != StoreSSM && store != StoreSecretsManager):
		return SecretRef{}, fmt.Errorf("is %q; want ssm:<parameter name> or secretsmanager:<secret name>, such as ssm:/jobwatch/slack-webhook", s)
	}
	return SecretRef{Store: store, Name: name}, nil
}

// IsZero reports whether r names nothing: Slack is off.
func (r SecretRef) IsZero() bool { return r.Name == "" }

// String returns the reference as SLACK_WEBHOOK_PARAMETER gives it.
func (r SecretRef) String() string {
	if r.IsZero() {
		return ""
	}
	return r.Store + ":" + r.Name
}

// parameterGetter reads an SSM parameter; *secretstore.Client is one.
type parameterGetter interface {
	GetParameter(ctx context.Context, in *secretstore.GetParameterInput) (*secretstore.GetParameterOutput, error)
}

// secretValueGetter reads a Secrets Manager secret; *secretstore.Client
// is one.
type secretValueGetter interface {
	GetSecretValue(ctx context.Context, in *secretstore.GetSecretValueInput) (*secretstore.GetSecretValueOutput, error)
}

// WebhookSecretOptions configure a WebhookSecret.
type WebhookSecretOptions struct {
	// TTL is how long a value read is used before it is read again, so a
	// rotated URL is picked up; 5 minutes when 0.
	TTL time.Duration
	// Grace is how long past its TTL the last good value is still used
	// while reading it again fails; 1 hour when 0.
	Grace time.Duration
	// RetryAfter is how long to wait, during the grace period, before
	// trying again after a failed read; 30 s when 0.
	RetryAfter time.Duration
	// AllowInsecureLocal admits http://127.0.0.1:<port>/ URLs, for local
	// runs (SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL).
	AllowInsecureLocal bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives a warning when a stale value is kept; slog.Default
	// when nil. The URL is never logged.
	Logger *slog.Logger
}

// WebhookSecret reads the webhook URL from SSM Parameter Store or Secrets
// Manager and keeps it across invocations for its TTL.
type WebhookSecret struct {
	ref  SecretRef
	read func(context.Context) (string, error)
	opts WebhookSecretOptions

	mu        sync.Mutex
	url       WebhookURL
	readAt    time.Time // when url was read
	nextTry   time.Time // no read before this, after a failed one
	lastError error
}

// NewWebhookSecret returns the webhook URL source for ref: the SSM
// parameter read with decryption through ssmClient, or the Secrets
// Manager secret through smClient (its SecretString is the URL, or JSON
// {"url": "…"}). The client of the other store may be nil.
func NewWebhookSecret(ref SecretRef, ssmClient parameterGetter, smClient secretValueGetter, opts WebhookSecretOptions) *WebhookSecret {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.Grace <= 0 {
		opts.Grace = time.Hour
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &WebhookSecret{ref: ref, opts: opts}
	switch ref.Store {
	case StoreSSM:
		w.read = func(ctx context.Context) (string, error) { return readParameter(ctx, ssmClient, ref.Name, opts.Logger) }
	case StoreSecretsManager:
		w.read = func(ctx context.Context) (string, error) { return readSecret(ctx, smClient, ref.Name) }
	default:
		w.read = func(context.Context) (string, error) {
			return "", fmt.Errorf("unknown store %q; want ssm or secretsmanager", ref.Store)
		}
	}
	return w
}

// Ref returns where the URL is read from.
func (w *WebhookSecret) Ref() SecretRef { return w.ref }

// WebhookURL returns the URL, read again once its TTL has passed. When
// reading fails, the last good value serves for the grace period (reads
// are retried every RetryAfter meanwhile); with no good value the error
// says why, without the value.
func (w *WebhookSecret) WebhookURL(ctx context.Context) (WebhookURL, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.opts.Now()
	fresh := !w.url.IsZero() && now.Before(w.readAt.Add(w.opts.TTL))
	usable := !w.url.IsZero() && now.Before(w.readAt.Add(w.opts.TTL+w.opts.Grace))
	if fresh || (usable && now.Before(w.nextTry)) {
		return w.url, nil
	}
	if !usable && now.Before(w.nextTry) && w.lastError != nil {
		return WebhookURL{}, w.lastError
	}
	u, err := w.fetch(ctx)
	if err == nil {
		w.url, w.readAt, w.nextTry, w.lastError = u, now, time.Time{}, nil
		return u, nil
	}
	w.lastError = err
	if usable {
		w.nextTry = now.Add(w.opts.RetryAfter)
		w.opts.Logger.WarnContext(ctx, "could not read the Slack webhook URL again; using the one read before",
			"parameter", w.ref.String(), "readAt", w.readAt.UTC().Format(time.RFC3339), "error", err.Error())
		return w.url, nil
	}
	// Nothing to fall back on: every post fails until a read succeeds;
	// try again on the next call, at most every second.
	w.nextTry = now.Add(time.Second)
	return WebhookURL{}, err
}

// fetch reads and checks the URL.
func (w *WebhookSecret) fetch(ctx context.Context) (WebhookURL, error) {
	raw, err := w.read(ctx)
	if err != nil {
		return WebhookURL{}, fmt.Errorf("read the Slack webhook URL from %s: %w", w.ref, err)
	}
	u, err := ParseWebhookURL(raw, w.opts.AllowInsecureLocal)
	if err != nil {
		// Stored wrong: no later attempt can cure it until someone stores
		// a webhook URL.
		return WebhookURL{}, refusal{fmt.Errorf("the value of %s: %w", w.ref, err)}
	}
	return u, nil
}

func readParameter(ctx context.Context, c parameterGetter, name string, log *slog.Logger) (string, error) {
	if c == nil {
		return "", errors.New("no SSM client")
	}
	out, err := c.GetParameter(ctx, &secretstore.GetParameterInput{Name: name, WithDecryption: true})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil {
		return "", errors.New("SSM answered without the parameter")
	}
	if out.Parameter.Type != secretstore.ParameterTypeSecureString {
		log.WarnContext(ctx, "the Slack webhook parameter is not a SecureString; anyone who may read parameters can post to the channel",
			"parameter", name, "type", out.Parameter.Type)
	}
	return out.Parameter.Value, nil
}

func readSecret(ctx context.Context, c secretValueGetter, id string) (string, error) {
	if c == nil {
		return "", errors.New("no Secrets Manager client")
	}
	out, err := c.GetSecretValue(ctx, &secretstore.GetSecretValueInput{SecretID: id})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", errors.New("the secret has no SecretString (a binary secret); store the URL, or {\"url\": \"…\"}, as a string")
	}
	s := strings.TrimSpace(*out.SecretString)
	if !strings.HasPrefix(s, "{") {
		return s, nil
	}
	var v struct {
		URL *string `json:"url"`
	}
	// json's errors do not quote the input, but say nothing of it anyway.
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.URL == nil {
		return "", errors.New(`the secret is JSON but not {"url": "…"} with a string url`)
	}
	return *v.URL, nil
}
