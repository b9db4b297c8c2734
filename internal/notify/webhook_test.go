package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/notify/secretstore"
)

// A webhook URL shaped like Slack's; the token is what must never leak.
const (
	testWebhookToken = "xTokenThatMustNotLeak0123"
	testWebhook      = "https://hooks.slack.com/services/T0ABC1234/B0DEF5678/" + testWebhookToken
)

func TestParseWebhookURL(t *testing.T) {
	for name, tc := range map[string]struct {
		raw        string
		allowLocal bool
		wantErr    string // "" when accepted
	}{
		"Slack":                           {raw: testWebhook},
		"GovSlack":                        {raw: "https://hooks.slack-gov.com/services/T1/B1/" + testWebhookToken},
		"trailing newline of a file":      {raw: testWebhook + "\n"},
		"host in capitals":                {raw: "https://HOOKS.SLACK.COM/services/T1/B1/" + testWebhookToken},
		"local stand-in when allowed":     {raw: "http://127.0.0.1:8123/services/T1/B1/" + testWebhookToken, allowLocal: true},
		"empty":                           {raw: "", wantErr: "it is empty"},
		"plain http":                      {raw: "http://hooks.slack.com/services/T1/B1/" + testWebhookToken, wantErr: "the scheme is not https"},
		"another host":                    {raw: "https://hooks.slack.com.evil.example/services/T1/B1/" + testWebhookToken, wantErr: "the host is not a Slack webhook host"},
		"a port":                          {raw: "https://hooks.slack.com:8443/services/T1/B1/" + testWebhookToken, wantErr: "the host is not a Slack webhook host"},
		"not a webhook path":              {raw: "https://hooks.slack.com/workflows/T1/" + testWebhookToken, wantErr: "the path is not /services/"},
		"credentials":                     {raw: "https://u:" + testWebhookToken + "@hooks.slack.com/services/T1/B1/x", wantErr: "user information"},
		"a query":                         {raw: testWebhook + "?to=" + testWebhookToken, wantErr: "a query or fragment"},
		"not a URL":                       {raw: "%zz" + testWebhookToken, wantErr: "does not parse as a URL"},
		"a token alone":                   {raw: testWebhookToken, wantErr: "the scheme is not https"},
		"local stand-in by default":       {raw: "http://127.0.0.1:8123/services/T1/B1/" + testWebhookToken, wantErr: "the scheme is not https"},
		"local, but not loopback":         {raw: "http://10.0.0.1:8123/services/T1/B1/" + testWebhookToken, allowLocal: true, wantErr: "the scheme is not https"},
		"local https is not the stand-in": {raw: "https://127.0.0.1:8123/services/T1/B1/" + testWebhookToken, allowLocal: true, wantErr: "the host is not a Slack webhook host"},
	} {
		t.Run(name, func(t *testing.T) {
			u, err := ParseWebhookURL(tc.raw, tc.allowLocal)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseWebhookURL: %v", err)
				}
				if u.Reveal() != strings.TrimSpace(tc.raw) {
					t.Errorf("Reveal() = %q", u.Reveal())
				}
				return
			}
			if !errors.Is(err, ErrWebhookRefused) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want ErrWebhookRefused saying %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testWebhookToken) || (tc.raw != "" && strings.Contains(err.Error(), tc.raw)) {
				t.Errorf("error repeats the value: %v", err)
			}
		})
	}
}

// However a WebhookURL is printed, logged or encoded, the token stays out.
func TestWebhookURLIsRedacted(t *testing.T) {
	u, err := ParseWebhookURL(testWebhook, false)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Public  WebhookURL
		private WebhookURL
	}
	h := holder{u, u}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "url", u, "holder", h)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "url", u, "holder", h)
	encoded, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", u), "%s": fmt.Sprintf("%s", u), "%q": fmt.Sprintf("%q", u), "%x": fmt.Sprintf("%x", u),
		"%#v": fmt.Sprintf("%#v", u), "%+v holder": fmt.Sprintf("%+v", h), "%#v holder": fmt.Sprintf("%#v", h),
		"String": u.String(), "slog": logged.String(), "json": string(encoded),
		"error": fmt.Errorf("post to %v: %w", u, errors.New("refused")).Error(),
	}
	for how, out := range outputs {
		if strings.Contains(out, testWebhookToken) {
			t.Errorf("%s shows the token: %s", how, out)
		}
	}
	if got := u.String(); got != "https://hooks.slack.com/services/***" {
		t.Errorf("String() = %q", got)
	}
	if !strings.Contains(string(encoded), `"Public":"https://hooks.slack.com/services/***"`) {
		t.Errorf("JSON = %s", encoded)
	}
}

func TestParseSecretRef(t *testing.T) {
	for name, tc := range map[string]struct {
		in      string
		want    SecretRef
		wantErr string
	}{
		"SSM":                 {in: "ssm:/jobwatch/slack-webhook", want: SecretRef{"ssm", "/jobwatch/slack-webhook"}},
		"Secrets Manager":     {in: "secretsmanager:jobwatch/slack", want: SecretRef{"secretsmanager", "jobwatch/slack"}},
		"Secrets Manager ARN": {in: "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:jobwatch/slack-AbCdEf", want: SecretRef{"secretsmanager", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobwatch/slack-AbCdEf"}},
		"no store":            {in: "/jobwatch/slack-webhook", wantErr: `is "/jobwatch/slack-webhook"; want ssm:<parameter name> or secretsmanager:<secret name>`},
		"unknown store":       {in: "vault:slack", wantErr: `is "vault:slack"`},
		"no name":             {in: "ssm:", wantErr: `is "ssm:"`},
		"the URL itself":      {in: testWebhook, wantErr: "is a URL; want the name of the SSM parameter or secret holding the webhook URL"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSecretRef(tc.in)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseSecretRef = %+v, %v; want %+v", got, err, tc.want)
				}
				if got.String() != tc.in {
					t.Errorf("String() = %q, want %q", got.String(), tc.in)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testWebhookToken) {
				t.Errorf("error repeats the URL: %v", err)
			}
		})
	}
}

// TestWebhookSecretMoto reads the URL as notify does in AWS: an SSM
// SecureString with decryption, and a Secrets Manager secret holding the
// URL or {"url": …}; values that are not Slack webhooks are refused
// without being repeated.
func TestWebhookSecretMoto(t *testing.T) {
	ctx := testenv.Context(t)
	cfg := testenv.AWSConfig(testenv.Moto(t))
	ssmc, smc := ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	param := func(typ ssmtypes.ParameterType, value string) SecretRef {
		name := "/" + testenv.Name(t, "jobwatch/slack-webhook")
		if _, err := ssmc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Type: typ, Value: aws.String(value)}); err != nil {
			t.Fatalf("put parameter: %v", err)
		}
		return SecretRef{StoreSSM, name}
	}
	secret := func(value string) SecretRef {
		name := testenv.Name(t, "jobwatch/slack")
		if _, err := smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
			t.Fatalf("create secret: %v", err)
		}
		return SecretRef{StoreSecretsManager, name}
	}
	for name, tc := range map[string]struct {
		ref      func() SecretRef
		wantErr  string
		wantWarn bool
	}{
		"SSM SecureString":                  {ref: func() SecretRef { return param(ssmtypes.ParameterTypeSecureString, testWebhook) }},
		"SSM String works, with a warning":  {ref: func() SecretRef { return param(ssmtypes.ParameterTypeString, testWebhook) }, wantWarn: true},
		"Secrets Manager, the URL":          {ref: func() SecretRef { return secret(testWebhook) }},
		"Secrets Manager, JSON":             {ref: func() SecretRef { return secret(`{"url": "` + testWebhook + `", "channel": "#ops"}`) }},
		"Secrets Manager, JSON without url": {ref: func() SecretRef { return secret(`{"webhook": "` + testWebhook + `"}`) }, wantErr: `the secret is JSON but not {"url": "…"}`},
		"not a Slack URL in SSM": {ref: func() SecretRef {
			return param(ssmtypes.ParameterTypeSecureString, "https://example.com/hook/"+testWebhookToken)
		}, wantErr: "not a Slack incoming-webhook URL (the host is not a Slack webhook host"},
		"not a Slack URL in Secrets Manager": {ref: func() SecretRef {
			return secret(`{"url": "http://hooks.slack.com/services/T/B/` + testWebhookToken + `"}`)
		},
			wantErr: "the scheme is not https"},
		"no such parameter": {ref: func() SecretRef { return SecretRef{StoreSSM, "/jobwatch/absent"} }, wantErr: "ParameterNotFound"},
		"no such secret":    {ref: func() SecretRef { return SecretRef{StoreSecretsManager, "jobwatch/absent"} }, wantErr: "ResourceNotFoundException"},
	} {
		t.Run(name, func(t *testing.T) {
			ref := tc.ref()
			log, logs := newLog()
			store := secretstore.NewFromConfig(cfg)
			w := NewWebhookSecret(ref, store, store, WebhookSecretOptions{Logger: log})
			u, err := w.WebhookURL(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), ref.String()) {
					t.Fatalf("error = %v, want one naming %s and saying %q", err, ref, tc.wantErr)
				}
				if strings.Contains(err.Error(), testWebhookToken) {
					t.Errorf("error shows the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("WebhookURL: %v", err)
			}
			if u.Reveal() != testWebhook {
				t.Errorf("URL read is %s", u)
			}
			warned := len(logs.lines(t, "the Slack webhook parameter is not a SecureString; anyone who may read parameters can post to the channel")) > 0
			if warned != tc.wantWarn {
				t.Errorf("warned %v, want %v", warned, tc.wantWarn)
			}
			if strings.Contains(logs.String(), testWebhookToken) {
				t.Errorf("the logs show the token:\n%s", logs.String())
			}
		})
	}
}

// fakeStore answers GetParameter from a value it can be told to change or
// fail, counting the reads.
type fakeStore struct {
	mu    sync.Mutex
	value string
	err   error
	reads int
}

func (f *fakeStore) set(value string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value, f.err = value, err
}

func (f *fakeStore) GetParameter(_ context.Context, in *secretstore.GetParameterInput) (*secretstore.GetParameterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if !in.WithDecryption {
		return nil, errors.New("read without decryption")
	}
	if f.err != nil {
		return nil, f.err
	}
	return &secretstore.GetParameterOutput{Parameter: &secretstore.Parameter{Name: in.Name, Type: secretstore.ParameterTypeSecureString, Value: f.value}}, nil
}

// TestWebhookSecretCache follows the cache through its life: read once per
// TTL, a rotated URL picked up, a failed read bridged by the last good
// value for the grace period (retried every RetryAfter), then failing.
func TestWebhookSecretCache(t *testing.T) {
	const rotated = "https://hooks.slack.com/services/T0ABC1234/B0DEF5678/rotatedToken"
	store := &fakeStore{value: testWebhook}
	clock := emulator.NewManualClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	log, logs := newLog()
	w := NewWebhookSecret(SecretRef{StoreSSM, "/jobwatch/slack-webhook"}, store, nil, WebhookSecretOptions{
		TTL: 5 * time.Minute, Grace: time.Hour, RetryAfter: 30 * time.Second, Now: clock.Now, Logger: log,
	})
	errDown := errors.New("ssm is down")
	steps := []struct {
		name      string
		advance   time.Duration
		set       func()
		wantURL   string // "" when an error is wanted
		wantReads int
	}{
		{name: "first call reads", wantURL: testWebhook, wantReads: 1},
		{name: "within the TTL, no read", advance: 4 * time.Minute, wantURL: testWebhook, wantReads: 1},
		{name: "rotated, still cached", advance: 30 * time.Second, set: func() { store.set(rotated, nil) }, wantURL: testWebhook, wantReads: 1},
		{name: "TTL over: read again", advance: 31 * time.Second, wantURL: rotated, wantReads: 2},
		{name: "store down: the last good value", advance: 6 * time.Minute, set: func() { store.set("", errDown) }, wantURL: rotated, wantReads: 3},
		{name: "no new read before RetryAfter", advance: 10 * time.Second, wantURL: rotated, wantReads: 3},
		{name: "retried after RetryAfter", advance: 21 * time.Second, wantURL: rotated, wantReads: 4},
		{name: "grace over: the error", advance: time.Hour, wantReads: 5},
		{name: "back: read again", advance: time.Second, set: func() { store.set(rotated, nil) }, wantURL: rotated, wantReads: 6},
		{name: "a refused value is a failed read", advance: 6 * time.Minute, set: func() { store.set("https://example.com/x", nil) }, wantURL: rotated, wantReads: 7},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		if st.set != nil {
			st.set()
		}
		u, err := w.WebhookURL(t.Context())
		switch {
		case st.wantURL == "" && (err == nil || !errors.Is(err, errDown) || !strings.Contains(err.Error(), "ssm:/jobwatch/slack-webhook")):
			t.Errorf("%s: WebhookURL = %v, %v; want the store's error naming the parameter", st.name, u, err)
		case st.wantURL != "" && (err != nil || u.Reveal() != st.wantURL):
			t.Errorf("%s: WebhookURL = %v, %v; want %s", st.name, u, err, st.wantURL)
		}
		if store.reads != st.wantReads {
			t.Errorf("%s: %d reads, want %d", st.name, store.reads, st.wantReads)
		}
	}
	if n := len(logs.lines(t, "could not read the Slack webhook URL again; using the one read before")); n != 3 {
		t.Errorf("%d warnings about the stale URL, want 3", n)
	}
	if strings.Contains(logs.String(), testWebhookToken) || strings.Contains(logs.String(), "rotatedToken") {
		t.Errorf("logs show a token:\n%s", logs.String())
	}
}
