package notify

import (
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// Config is the notify function's configuration.
type Config struct {
	// EventBusName is the name or ARN of the bus events go to (EVENT_BUS_NAME).
	EventBusName string
	// EventSource is the events' source (EVENT_SOURCE).
	EventSource string
	// AccountID and Region name the job ARN, the events' resource
	// (ACCOUNT_ID, AWS_REGION).
	AccountID, Region string
	// LogLevel is the lowest level logged (LOG_LEVEL).
	LogLevel slog.Level
	// StateTable is the DynamoDB table where each sink's deliveries are
	// claimed and remembered, so a change reaches users once
	// (STATE_TABLE); empty: no de-duplication.
	StateTable string
	// IdempotencyWindow is how long a delivery is remembered
	// (IDEMPOTENCY_WINDOW, default 15 days: longer than the dead-letter
	// queues keep a message, 14 days, so that no redrive outlives the
	// claims and publishes again).
	IdempotencyWindow time.Duration
	// CompletionsQueueURL is the completions queue, where a delayed copy
	// replaces a message a sink failed for the time being
	// (COMPLETIONS_QUEUE_URL); empty: it is left for redelivery.
	CompletionsQueueURL string
	// DeadLetterQueueURL is the completions queue's dead-letter queue,
	// where poison is parked at once (COMPLETIONS_DEAD_LETTER_QUEUE_URL);
	// empty: it is left for redelivery, reaching it after maxReceiveCount.
	DeadLetterQueueURL string
	// MetricsNamespace is the CloudWatch namespace of the metrics
	// (METRICS_NAMESPACE, default jobwatch).
	MetricsNamespace string
	// Retry shapes the delay of the copies that replace messages a sink
	// failed for the time being (BACKOFF_BASE, 5s; BACKOFF_LIMIT, 5m).
	Retry queue.Retry

	// SNSTopicARN is the topic notifications go to (SNS_TOPIC_ARN);
	// empty: the SNS sink is off.
	SNSTopicARN string
	// SNSStatuses are the statuses published to the topic (SNS_STATUSES,
	// comma separated); every known status by default.
	SNSStatuses []string
	// SlackWebhook names the SSM parameter or secret holding the Slack
	// webhook URL (SLACK_WEBHOOK_PARAMETER, "ssm:/name" or
	// "secretsmanager:name"); zero: the Slack sink is off. The URL itself
	// is never in the environment.
	SlackWebhook SecretRef
	// SlackStatuses are the statuses posted to Slack (SLACK_STATUSES);
	// the terminal ones by default, not STILL_RUNNING.
	SlackStatuses []string
	// SlackWebhookTTL is how long the webhook URL read is used before it
	// is read again (SLACK_WEBHOOK_TTL, default 5m).
	SlackWebhookTTL time.Duration
	// SlackAllowInsecureLocal lets the webhook URL be http://127.0.0.1:<port>/…,
	// for a local stand-in (SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL=true); off
	// by default, and never set by the template.
	SlackAllowInsecureLocal bool
}

// DefaultIdempotencyWindow is how long a delivery is remembered unless
// IDEMPOTENCY_WINDOW says otherwise: a day beyond the 14 days the
// dead-letter queues keep a message, so that a message redriven on their
// last day still finds the claims of the sinks that delivered it.
const DefaultIdempotencyWindow = 15 * 24 * time.Hour

// Default routing: SNS gets every status (subscriptions filter), Slack
// the ends of jobs.
var (
	DefaultSNSStatuses   = []string{contract.StatusCompleted, contract.StatusFailed, contract.StatusTimedOut, contract.StatusLost, contract.StatusStillRunning}
	DefaultSlackStatuses = []string{contract.StatusCompleted, contract.StatusFailed, contract.StatusTimedOut, contract.StatusLost}
)

// The shapes EventBridge and ARNs accept; a value that cannot work fails
// at start rather than on every message. The last group of the bus and
// topic patterns is the name, at most maxResourceName characters: checked
// apart, as a {1,256} in the pattern would compile to 256 copies of it at
// every cold start.
var (
	busNamePattern  = regexp.MustCompile(`^(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus/)?([/.\-_A-Za-z0-9]+)$`)
	topicARNPattern = regexp.MustCompile(`^arn:aws[\w-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:([A-Za-z0-9_-]+)(\.fifo)?$`)
	accountPattern  = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

const maxResourceName = 256

// matchName reports whether s matches p, whose group n is a name of at
// most maxResourceName characters.
func matchName(p *regexp.Regexp, n int, s string) bool {
	m := p.FindStringSubmatch(s)
	return m != nil && len(m[n]) <= maxResourceName
}

// LoadConfig reads the configuration from env, returning an error that
// names every missing or bad variable.
func LoadConfig(env *settings.Env) (Config, error) {
	c := Config{
		EventBusName:      env.Required("EVENT_BUS_NAME"),
		EventSource:       env.String("EVENT_SOURCE", contract.DefaultEventSource),
		AccountID:         env.Required("ACCOUNT_ID"),
		Region:            env.Required("AWS_REGION"),
		StateTable:        env.String("STATE_TABLE", ""),
		IdempotencyWindow: env.Duration("IDEMPOTENCY_WINDOW", DefaultIdempotencyWindow, time.Hour, 365*24*time.Hour),
		MetricsNamespace:  env.String("METRICS_NAMESPACE", metrics.DefaultNamespace),
		Retry:             queue.RetryFromEnv(env),
	}
	for name, dst := range map[string]*string{"COMPLETIONS_QUEUE_URL": &c.CompletionsQueueURL, "COMPLETIONS_DEAD_LETTER_QUEUE_URL": &c.DeadLetterQueueURL} {
		if env.String(name, "") != "" {
			*dst = env.QueueURL(name)
		}
	}
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")

	bad := func(name, format string, args ...any) { env.Check(name, false, format, args...) }
	if c.EventBusName != "" && !matchName(busNamePattern, 2, c.EventBusName) {
		bad("EVENT_BUS_NAME", "is %q; want an event bus name or ARN", c.EventBusName)
	}
	switch {
	case len(c.EventSource) > 256:
		bad("EVENT_SOURCE", "is %d characters; EventBridge takes at most 256", len(c.EventSource))
	case strings.HasPrefix(c.EventSource, "aws."):
		bad("EVENT_SOURCE", "is %q; sources starting with \"aws.\" are reserved for AWS services", c.EventSource)
	}
	if c.AccountID != "" && !accountPattern.MatchString(c.AccountID) {
		bad("ACCOUNT_ID", "is %q; want the 12-digit AWS account id", c.AccountID)
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		bad("AWS_REGION", "is %q; want a region such as us-east-1", c.Region)
	}
	var err error
	if c.LogLevel, err = logging.ParseLevel(level); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}

	c.SNSTopicARN = env.String("SNS_TOPIC_ARN", "")
	switch {
	case c.SNSTopicARN == "":
	case !matchName(topicARNPattern, 2, c.SNSTopicARN):
		bad("SNS_TOPIC_ARN", "is %q; want a topic ARN such as arn:aws:sns:us-east-1:123456789012:jobwatch", c.SNSTopicARN)
	case strings.HasSuffix(c.SNSTopicARN, ".fifo"):
		bad("SNS_TOPIC_ARN", "is %q, a FIFO topic; notify publishes to a standard topic", c.SNSTopicARN)
	}
	c.SNSStatuses = statuses(env, "SNS_STATUSES", DefaultSNSStatuses)
	if ref := env.String("SLACK_WEBHOOK_PARAMETER", ""); ref != "" {
		if c.SlackWebhook, err = ParseSecretRef(ref); err != nil {
			bad("SLACK_WEBHOOK_PARAMETER", "%v", err)
		}
	}
	c.SlackStatuses = statuses(env, "SLACK_STATUSES", DefaultSlackStatuses)
	c.SlackWebhookTTL = env.Duration("SLACK_WEBHOOK_TTL", 5*time.Minute, time.Second, 24*time.Hour)
	c.SlackAllowInsecureLocal = env.OneOf("SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL", "false", "false", "true") == "true"
	return c, env.Err()
}

// statuses reads a comma-separated list of status names, def when unset.
func statuses(env *settings.Env, name string, def []string) []string {
	list := env.List(name)
	if list == nil {
		return slices.Clone(def)
	}
	var out []string
	for _, s := range list {
		s = strings.ToUpper(s)
		if !contract.IsKnownStatus(s) {
			env.Check(name, false, "names %q; want statuses among %s", s, strings.Join(DefaultSNSStatuses, ", "))
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
