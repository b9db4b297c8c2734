package notify

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// configEnv is the least valid environment with the pairs kv set on top.
func configEnv(kv ...string) map[string]string {
	m := map[string]string{"EVENT_BUS_NAME": "jobwatch", "ACCOUNT_ID": "123456789012", "AWS_REGION": "eu-west-1"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// goodConfigs are environments LoadConfig takes, with what it reads.
var goodConfigs = map[string]struct {
	env  map[string]string
	want Config
}{
	"defaults": {
		env: configEnv(),
		want: Config{EventBusName: "jobwatch", EventSource: "jobwatch.amplifybackend", AccountID: "123456789012", Region: "eu-west-1", LogLevel: slog.LevelInfo,
			SNSStatuses:   []string{"COMPLETED", "FAILED", "TIMED_OUT", "LOST", "STILL_RUNNING"},
			SlackStatuses: []string{"COMPLETED", "FAILED", "TIMED_OUT", "LOST"}, SlackWebhookTTL: 5 * time.Minute, IdempotencyWindow: 15 * 24 * time.Hour, MetricsNamespace: "jobwatch", Retry: defaultRetry},
	},
	"everything set": {
		env: configEnv("EVENT_BUS_NAME", "arn:aws:events:eu-west-1:123456789012:event-bus/ops", "EVENT_SOURCE", "acme.jobs", "LOG_LEVEL", "debug",
			"SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:jobwatch-NotificationTopic-AbC123", "SNS_STATUSES", "failed, TIMED_OUT,FAILED",
			"SLACK_WEBHOOK_PARAMETER", "ssm:/jobwatch/slack-webhook", "SLACK_STATUSES", "FAILED,STILL_RUNNING", "SLACK_WEBHOOK_TTL", "1m",
			"SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL", "true", "IDEMPOTENCY_WINDOW", "480h", "METRICS_NAMESPACE", "acme/jobs",
			"COMPLETIONS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/completions",
			"COMPLETIONS_DEAD_LETTER_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/completions-dlq"),
		want: Config{EventBusName: "arn:aws:events:eu-west-1:123456789012:event-bus/ops", EventSource: "acme.jobs",
			AccountID: "123456789012", Region: "eu-west-1", LogLevel: slog.LevelDebug,
			SNSTopicARN: "arn:aws:sns:eu-west-1:123456789012:jobwatch-NotificationTopic-AbC123", SNSStatuses: []string{"FAILED", "TIMED_OUT"},
			SlackWebhook: SecretRef{Store: "ssm", Name: "/jobwatch/slack-webhook"}, SlackStatuses: []string{"FAILED", "STILL_RUNNING"},
			SlackWebhookTTL: time.Minute, SlackAllowInsecureLocal: true, IdempotencyWindow: 20 * 24 * time.Hour, MetricsNamespace: "acme/jobs", Retry: defaultRetry,
			CompletionsQueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/completions",
			DeadLetterQueueURL:  "https://sqs.eu-west-1.amazonaws.com/123456789012/completions-dlq"},
	},
	"webhook in Secrets Manager": {
		env: configEnv("SLACK_WEBHOOK_PARAMETER", "secretsmanager:jobwatch/slack"),
		want: Config{EventBusName: "jobwatch", EventSource: "jobwatch.amplifybackend", AccountID: "123456789012", Region: "eu-west-1", LogLevel: slog.LevelInfo,
			SNSStatuses:  []string{"COMPLETED", "FAILED", "TIMED_OUT", "LOST", "STILL_RUNNING"},
			SlackWebhook: SecretRef{Store: "secretsmanager", Name: "jobwatch/slack"}, SlackStatuses: []string{"COMPLETED", "FAILED", "TIMED_OUT", "LOST"},
			SlackWebhookTTL: 5 * time.Minute, IdempotencyWindow: 15 * 24 * time.Hour, MetricsNamespace: "jobwatch", Retry: defaultRetry},
	},
	"names of 256 characters": {
		env: configEnv("EVENT_BUS_NAME", strings.Repeat("b", 256), "SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:"+strings.Repeat("t", 256)),
		want: Config{EventBusName: strings.Repeat("b", 256), EventSource: "jobwatch.amplifybackend", AccountID: "123456789012", Region: "eu-west-1", LogLevel: slog.LevelInfo,
			SNSTopicARN:   "arn:aws:sns:eu-west-1:123456789012:" + strings.Repeat("t", 256),
			SNSStatuses:   []string{"COMPLETED", "FAILED", "TIMED_OUT", "LOST", "STILL_RUNNING"},
			SlackStatuses: []string{"COMPLETED", "FAILED", "TIMED_OUT", "LOST"}, SlackWebhookTTL: 5 * time.Minute, IdempotencyWindow: 15 * 24 * time.Hour, MetricsNamespace: "jobwatch", Retry: defaultRetry},
	},
}

// defaultRetry is the backoff without BACKOFF_BASE and BACKOFF_LIMIT.
var defaultRetry = queue.Retry{Base: queue.DefaultBackoffBase, Limit: queue.DefaultBackoffLimit}

func TestLoadConfig(t *testing.T) {
	for name, tc := range goodConfigs {
		t.Run(name, func(t *testing.T) {
			got, err := LoadConfig(settings.FromMap(tc.env))
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("config = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// badConfigs are environments LoadConfig refuses, with what its error
// must say (each string must appear in it).
var badConfigs = map[string]struct {
	env      map[string]string
	wantErrs []string
}{
	"unknown status to SNS": {
		env:      configEnv("SNS_STATUSES", "FAILED,CANCELLED"),
		wantErrs: []string{`setting SNS_STATUSES: names "CANCELLED"; want statuses among COMPLETED, FAILED, TIMED_OUT, LOST, STILL_RUNNING`},
	},
	"unknown status to Slack": {
		env:      configEnv("SLACK_STATUSES", "DONE"),
		wantErrs: []string{`setting SLACK_STATUSES: names "DONE"`},
	},
	"not a topic ARN": {
		env:      configEnv("SNS_TOPIC_ARN", "jobwatch-notifications"),
		wantErrs: []string{`setting SNS_TOPIC_ARN: is "jobwatch-notifications"; want a topic ARN`},
	},
	"FIFO topic": {
		env:      configEnv("SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:jobs.fifo"),
		wantErrs: []string{"setting SNS_TOPIC_ARN: is \"arn:aws:sns:eu-west-1:123456789012:jobs.fifo\", a FIFO topic"},
	},
	"webhook parameter without a store": {
		env:      configEnv("SLACK_WEBHOOK_PARAMETER", "/jobwatch/slack-webhook"),
		wantErrs: []string{`setting SLACK_WEBHOOK_PARAMETER: is "/jobwatch/slack-webhook"; want ssm:<parameter name> or secretsmanager:<secret name>`},
	},
	"insecure-local switch not a boolean": {
		env:      configEnv("SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL", "yes"),
		wantErrs: []string{`setting SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL: is "yes"; want one of false, true`},
	},
	"not a queue URL": {
		env:      configEnv("COMPLETIONS_DEAD_LETTER_QUEUE_URL", "completions-dlq"),
		wantErrs: []string{`setting COMPLETIONS_DEAD_LETTER_QUEUE_URL: is "completions-dlq"; want a queue URL`},
	},
	"idempotency window out of range": {
		env:      configEnv("IDEMPOTENCY_WINDOW", "1m"),
		wantErrs: []string{"setting IDEMPOTENCY_WINDOW: is 1m0s; want between 1h0m0s and 8760h0m0s"},
	},
	"webhook TTL out of range": {
		env:      configEnv("SLACK_WEBHOOK_TTL", "0s"),
		wantErrs: []string{"setting SLACK_WEBHOOK_TTL: is 0s; want between 1s and 24h0m0s"},
	},
	"nothing set": {
		env:      map[string]string{},
		wantErrs: []string{"setting EVENT_BUS_NAME: is required", "setting ACCOUNT_ID: is required", "setting AWS_REGION: is required"},
	},
	"blank bus name": {
		env:      configEnv("EVENT_BUS_NAME", "  "),
		wantErrs: []string{"setting EVENT_BUS_NAME: is required"},
	},
	"bad bus name": {
		env:      configEnv("EVENT_BUS_NAME", "my bus!"),
		wantErrs: []string{`setting EVENT_BUS_NAME: is "my bus!"`},
	},
	"source reserved for AWS": {
		env:      configEnv("EVENT_SOURCE", "aws.amplifybackend"),
		wantErrs: []string{`setting EVENT_SOURCE: is "aws.amplifybackend"; sources starting with "aws." are reserved`},
	},
	"source too long": {
		env:      configEnv("EVENT_SOURCE", strings.Repeat("s", 257)),
		wantErrs: []string{"setting EVENT_SOURCE: is 257 characters; EventBridge takes at most 256"},
	},
	"account not 12 digits": {
		env:      configEnv("ACCOUNT_ID", "12345"),
		wantErrs: []string{`setting ACCOUNT_ID: is "12345"; want the 12-digit AWS account id`},
	},
	"bad region": {
		env:      configEnv("AWS_REGION", "Europe"),
		wantErrs: []string{`setting AWS_REGION: is "Europe"`},
	},
	"bad log level": {
		env:      configEnv("LOG_LEVEL", "verbose"),
		wantErrs: []string{`setting LOG_LEVEL: is "verbose"; want one of DEBUG, INFO, WARN, ERROR`},
	},
	"several at once": {
		env:      configEnv("ACCOUNT_ID", "abc", "EVENT_SOURCE", "aws.x", "LOG_LEVEL", "loud"),
		wantErrs: []string{"ACCOUNT_ID", "EVENT_SOURCE", "LOG_LEVEL"},
	},
	"bus name too long": {
		env:      configEnv("EVENT_BUS_NAME", "arn:aws:events:eu-west-1:123456789012:event-bus/"+strings.Repeat("b", 257)),
		wantErrs: []string{`setting EVENT_BUS_NAME: is "arn:aws:events:eu-west-1:123456789012:event-bus/bbb`},
	},
	"topic name too long": {
		env:      configEnv("SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:"+strings.Repeat("t", 257)),
		wantErrs: []string{`setting SNS_TOPIC_ARN: is "arn:aws:sns:eu-west-1:123456789012:ttt`},
	},
}

func TestLoadConfigRefuses(t *testing.T) {
	for name, tc := range badConfigs {
		t.Run(name, func(t *testing.T) {
			got, err := LoadConfig(settings.FromMap(tc.env))
			if err == nil {
				t.Fatalf("LoadConfig = %+v, want an error naming %v", got, tc.wantErrs)
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
