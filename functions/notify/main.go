// Command notify is the Lambda function that publishes the status changes
// arriving on the completions queue (see internal/notify): every change to
// the event bus, the statuses SNS_STATUSES names to the SNS topic, and
// those SLACK_STATUSES names to Slack.
//
// Environment: EVENT_BUS_NAME (required), EVENT_SOURCE (default
// jobwatch.amplifybackend), ACCOUNT_ID (required, from AWS::AccountId),
// AWS_REGION (set by Lambda), LOG_LEVEL (default INFO);
// SNS_TOPIC_ARN (empty: no SNS), SNS_STATUSES (default all statuses);
// SLACK_WEBHOOK_PARAMETER (ssm:/name or secretsmanager:name of the stored
// webhook URL; empty: no Slack), SLACK_STATUSES (default COMPLETED,
// FAILED, TIMED_OUT, LOST), SLACK_WEBHOOK_TTL (default 5m),
// SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL (default false; true admits
// http://127.0.0.1 webhooks, for local runs only); STATE_TABLE (the
// DynamoDB table remembering deliveries, so each reaches users once),
// IDEMPOTENCY_WINDOW (default 15 days, beyond the dead-letter queues' 14);
// COMPLETIONS_QUEUE_URL (where a delayed copy replaces a message a sink
// failed for the time being) and COMPLETIONS_DEAD_LETTER_QUEUE_URL (where
// poison is parked at once): each empty, such messages are left for
// redelivery; METRICS_NAMESPACE (default jobwatch) for the metrics (EMF)
// written to stdout at the end of each invocation.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/notify"
	"github.com/jobwatch/jobwatch/internal/notify/secretstore"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
)

func main() {
	cfg, err := notify.LoadConfig(settings.FromEnviron())
	if err != nil {
		fail(slog.LevelInfo, "bad configuration", err)
	}
	log := logging.New(os.Stdout, cfg.LogLevel)
	slog.SetDefault(log)

	awsCfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(cfg.Region))
	if err != nil {
		fail(cfg.LogLevel, "load AWS configuration", err)
	}
	rec := metrics.New(os.Stdout, cfg.MetricsNamespace)
	// Each sink delivers a change once: claimed in the state table before,
	// remembered after (no table: at least once). What reaches a sink is
	// counted.
	once := func(s notify.Sink) notify.Sink { return notify.Counted(s, rec) }
	if cfg.StateTable != "" {
		claims := state.NewFromConfig(awsCfg, cfg.StateTable, state.Options{})
		once = func(s notify.Sink) notify.Sink {
			return notify.Deduplicate(notify.Counted(s, rec), claims, notify.IdempotencyOptions{Window: cfg.IdempotencyWindow})
		}
	} else {
		log.Warn("STATE_TABLE is not set: duplicated completion messages may notify twice")
	}
	sinks := []notify.Sink{once(notify.NewEventBridge(eventbridge.NewFromConfig(awsCfg), notify.EventBridgeOptions{
		BusName: cfg.EventBusName,
		Source:  cfg.EventSource,
		Region:  cfg.Region,
		Account: cfg.AccountID,
		Logger:  log,
		Metrics: rec,
	}))}
	if cfg.SNSTopicARN != "" {
		sinks = append(sinks, notify.Only(cfg.SNSStatuses, once(notify.NewSNS(sns.NewFromConfig(awsCfg), notify.SNSOptions{
			TopicARN: cfg.SNSTopicARN,
			Region:   cfg.Region,
			Logger:   log,
		}))))
	}
	if !cfg.SlackWebhook.IsZero() {
		// Built once: the URL read and the rate limit carry over from one
		// invocation to the next.
		store := secretstore.NewFromConfig(awsCfg)
		webhook := notify.NewWebhookSecret(cfg.SlackWebhook, store, store, notify.WebhookSecretOptions{
			TTL:                cfg.SlackWebhookTTL,
			AllowInsecureLocal: cfg.SlackAllowInsecureLocal,
			Logger:             log,
		})
		sinks = append(sinks, notify.Only(cfg.SlackStatuses, once(notify.NewSlack(webhook, notify.SlackOptions{
			Region: cfg.Region,
			Logger: log,
		}))))
	}
	log.Info("notify starting", "sinks", sinkNames(sinks), "snsStatuses", cfg.SNSStatuses,
		"slackWebhookParameter", cfg.SlackWebhook.String(), "slackStatuses", cfg.SlackStatuses)
	n := notify.NewWithOptions(log, notify.Options{SQS: sqs.NewFromConfig(awsCfg), QueueURL: cfg.CompletionsQueueURL,
		DeadLetterURL: cfg.DeadLetterQueueURL, Retry: cfg.Retry, Metrics: rec}, sinks...)
	// lambda.Start takes func(context.Context, events.SQSEvent) (events.SQSEventResponse, error).
	lambda.Start(n.HandleSQS)
}

func sinkNames(sinks []notify.Sink) []string {
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	return names
}

// fail logs why the function cannot start and exits, failing the init.
func fail(level slog.Level, msg string, err error) {
	logging.New(os.Stdout, level).Error(msg, "error", err.Error())
	os.Exit(1)
}
