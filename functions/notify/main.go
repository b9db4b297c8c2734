// Command notify is the Lambda function that publishes the status changes
// arriving on the completions queue (see internal/notify).
//
// Environment: EVENT_BUS_NAME (required), EVENT_SOURCE (default
// jobwatch.amplifybackend), ACCOUNT_ID (required, from AWS::AccountId),
// AWS_REGION (set by Lambda), LOG_LEVEL (default INFO).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/notify"
	"github.com/jobwatch/jobwatch/internal/settings"
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
	bus := notify.NewEventBridge(eventbridge.NewFromConfig(awsCfg), notify.EventBridgeOptions{
		BusName: cfg.EventBusName,
		Source:  cfg.EventSource,
		Region:  cfg.Region,
		Account: cfg.AccountID,
		Logger:  log,
	})
	// lambda.Start takes func(context.Context, events.SQSEvent) (events.SQSEventResponse, error).
	lambda.Start(notify.New(log, bus).HandleSQS)
}

// fail logs why the function cannot start and exits, failing the init.
func fail(level slog.Level, msg string, err error) {
	logging.New(os.Stdout, level).Error(msg, "error", err.Error())
	os.Exit(1)
}
