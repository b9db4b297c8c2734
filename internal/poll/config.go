package poll

import (
	"time"

	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// ReadConfig reads the poll function's settings: JOBS_QUEUE_URL,
// COMPLETIONS_QUEUE_URL and WAITING_QUEUE_URL (required),
// JOBS_DEAD_LETTER_QUEUE_URL (where poison is parked at once; optional),
// ALLOWED_APP_IDS (required: the apps a push hint looks at), STATE_TABLE
// (the tracked jobs; optional), NOT_FOUND_GRACE (2m), NOT_FOUND_RETRY
// (5s), STILL_RUNNING_AFTER (2h; 0 turns the warning off), POLL_POLICY
// (jobwatch), BACKOFF_BASE (5s) and BACKOFF_LIMIT (5m), METRICS_NAMESPACE
// (jobwatch) and LOG_LEVEL (INFO). The error
// names every bad setting. The Logger and Metrics are left for the caller
// to set.
func ReadConfig(env *settings.Env, seed uint64) (Config, error) {
	cfg := Config{
		JobsQueueURL:        env.QueueURL("JOBS_QUEUE_URL"),
		CompletionsQueueURL: env.QueueURL("COMPLETIONS_QUEUE_URL"),
		WaitingQueueURL:     env.QueueURL("WAITING_QUEUE_URL"),
		NotFoundGrace:       env.Duration("NOT_FOUND_GRACE", 2*time.Minute, 0, time.Hour),
		NotFoundRetry:       env.Duration("NOT_FOUND_RETRY", 5*time.Second, time.Second, schedule.MaxSQSDelay),
		StillRunningAfter:   env.Duration("STILL_RUNNING_AFTER", 2*time.Hour, 0, 30*24*time.Hour),
		StateTable:          env.String("STATE_TABLE", ""),
		AppIDs:              env.List("ALLOWED_APP_IDS"),
		MetricsNamespace:    env.String("METRICS_NAMESPACE", metrics.DefaultNamespace),
		Retry:               queue.RetryFromEnv(env),
	}
	if env.String("JOBS_DEAD_LETTER_QUEUE_URL", "") != "" {
		cfg.DeadLetterQueueURL = env.QueueURL("JOBS_DEAD_LETTER_QUEUE_URL")
	}
	env.Check("ALLOWED_APP_IDS", len(cfg.AppIDs) > 0, "is required: the apps whose environments a push hint looks at")
	policy := env.OneOf("POLL_POLICY", "jobwatch", schedule.Names()...)
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")
	if err := env.Err(); err != nil {
		return cfg, err
	}
	cfg.Policy, _ = schedule.New(policy, seed) // a name OneOf accepted
	cfg.LogLevel, _ = logging.ParseLevel(level)
	return cfg, nil
}
