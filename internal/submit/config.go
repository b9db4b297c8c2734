package submit

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// maxDelay is the longest DelaySeconds SQS accepts.
const maxDelay = 900 * time.Second

// DefaultMaxLine is how many requests may wait for one environment.
const DefaultMaxLine = 100

// Config is the submit function's configuration.
type Config struct {
	// JobsQueueURL receives a tracking message per started job (for poll).
	JobsQueueURL string
	// WaitingQueueURL receives wake-ups for the waiting lines; submit
	// consumes it too.
	WaitingQueueURL string
	// CompletionsQueueURL receives a status change for a request that
	// waited past its deadline or that the service refused for good.
	CompletionsQueueURL string
	// SubmitFailuresQueueURL is the function's on-failure destination: an
	// EventBridge job request that can never run (malformed, refused) is
	// sent there at once, in Lambda's on-failure record format, instead of
	// failing the invocation for Lambda to retry twice.
	SubmitFailuresQueueURL string
	// StateTable is the DynamoDB table of request records and lines.
	StateTable string
	// AllowedAppIDs are the only app ids accepted (required).
	AllowedAppIDs []string
	// Deadline is how long poll follows a job before calling it TIMED_OUT.
	Deadline time.Duration
	// WaitDeadline is how long a request may wait for its environment.
	WaitDeadline time.Duration
	// InitialPollDelay delays the first look at a new job (≤ 900 s).
	InitialPollDelay time.Duration
	// WaitRetryDelay is the delay of a wake-up sent while the environment
	// is busy (≤ 900 s).
	WaitRetryDelay time.Duration
	// BackoffBase and BackoffLimit shape the backoff of work put off after
	// a transient failure (see queue.Backoff); zero means the defaults.
	BackoffBase, BackoffLimit time.Duration
	// MaxLine bounds a line; 0 means DefaultMaxLine.
	MaxLine int
	// MetricsNamespace is the CloudWatch namespace of the metrics.
	MetricsNamespace string
	// LogLevel is the level of the function's logger.
	LogLevel slog.Level
}

// ReadConfig reads the configuration from the environment: JOBS_QUEUE_URL,
// WAITING_QUEUE_URL, COMPLETIONS_QUEUE_URL, SUBMIT_FAILURES_QUEUE_URL,
// STATE_TABLE and ALLOWED_APP_IDS (comma list) are required; DEADLINE
// (6h), WAIT_DEADLINE (6h), INITIAL_POLL_DELAY (10s), WAIT_RETRY_DELAY
// (2m), BACKOFF_BASE (5s) and BACKOFF_LIMIT (5m) (local stacks shorten
// them), METRICS_NAMESPACE (jobwatch) and LOG_LEVEL (INFO) are optional.
// The error names every bad variable.
func ReadConfig(env *settings.Env) (Config, error) {
	backoff := queue.RetryFromEnv(env)
	cfg := Config{
		JobsQueueURL:           env.QueueURL("JOBS_QUEUE_URL"),
		WaitingQueueURL:        env.QueueURL("WAITING_QUEUE_URL"),
		CompletionsQueueURL:    env.QueueURL("COMPLETIONS_QUEUE_URL"),
		SubmitFailuresQueueURL: env.QueueURL("SUBMIT_FAILURES_QUEUE_URL"),
		StateTable:             env.Required("STATE_TABLE"),
		AllowedAppIDs:          env.List("ALLOWED_APP_IDS"),
		Deadline:               env.Duration("DEADLINE", 6*time.Hour, time.Second, 30*24*time.Hour),
		WaitDeadline:           env.Duration("WAIT_DEADLINE", 6*time.Hour, time.Second, 30*24*time.Hour),
		InitialPollDelay:       env.Duration("INITIAL_POLL_DELAY", 10*time.Second, 0, maxDelay),
		// A zero delay would spin on a busy environment.
		WaitRetryDelay:   env.Duration("WAIT_RETRY_DELAY", 2*time.Minute, time.Second, maxDelay),
		BackoffBase:      backoff.Base,
		BackoffLimit:     backoff.Limit,
		MaxLine:          DefaultMaxLine,
		MetricsNamespace: env.String("METRICS_NAMESPACE", metrics.DefaultNamespace),
	}
	env.Check("ALLOWED_APP_IDS", len(cfg.AllowedAppIDs) > 0, "is required: the app ids whose jobs submit may start")
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")
	if err := env.Err(); err != nil {
		return Config{}, err
	}
	l, err := logging.ParseLevel(level)
	if err != nil {
		return Config{}, fmt.Errorf("setting LOG_LEVEL: %w", err)
	}
	cfg.LogLevel = l
	return cfg, nil
}

// check reports settings a Submitter cannot work with, for configurations
// built by hand.
func (c Config) check() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"JobsQueueURL", c.JobsQueueURL}, {"WaitingQueueURL", c.WaitingQueueURL},
		{"CompletionsQueueURL", c.CompletionsQueueURL}, {"SubmitFailuresQueueURL", c.SubmitFailuresQueueURL},
		{"StateTable", c.StateTable},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if len(c.AllowedAppIDs) == 0 {
		errs = append(errs, errors.New("AllowedAppIDs is required: with none, no app may be used"))
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"InitialPollDelay", c.InitialPollDelay}, {"WaitRetryDelay", c.WaitRetryDelay}, {"BackoffLimit", c.BackoffLimit}} {
		if f.d < 0 || f.d > maxDelay {
			errs = append(errs, fmt.Errorf("%s is %v; SQS delays lie between 0 and %v", f.name, f.d, maxDelay))
		}
	}
	if c.Deadline <= 0 || c.WaitDeadline <= 0 {
		errs = append(errs, errors.New("the deadlines (Deadline, WaitDeadline) must be positive"))
	}
	if c.MaxLine < 0 || c.BackoffBase < 0 {
		errs = append(errs, errors.New("the line bound (MaxLine) and the backoff (BackoffBase) must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("submit configuration: %w", err)
	}
	return nil
}
