// Command poll is the Lambda function that tracks Amplify Admin API jobs:
// the jobs queue's event source. It only wires; internal/poll decides.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/poll"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/settings"
)

func main() {
	p, err := setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "poll: configuration:", err)
		os.Exit(1)
	}
	lambda.Start(p.HandleSQS)
}

// setup reads the configuration once and builds the clients.
func setup(ctx context.Context) (*poll.Poller, error) {
	env := settings.FromEnviron()
	cfg := poll.Config{
		JobsQueueURL:        env.QueueURL("JOBS_QUEUE_URL"),
		CompletionsQueueURL: env.QueueURL("COMPLETIONS_QUEUE_URL"),
		WaitingQueueURL:     env.QueueURL("WAITING_QUEUE_URL"),
		NotFoundGrace:       env.Duration("NOT_FOUND_GRACE", 2*time.Minute, 0, time.Hour),
		NotFoundRetry:       env.Duration("NOT_FOUND_RETRY", 5*time.Second, time.Second, schedule.MaxSQSDelay),
	}
	policyName := env.OneOf("POLL_POLICY", "jobwatch", schedule.Names()...)
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")
	if err := env.Err(); err != nil {
		return nil, err
	}
	lvl, _ := logging.ParseLevel(level)
	cfg.Logger = logging.New(os.Stdout, lvl)
	policy, err := schedule.New(policyName, uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	cfg.Policy = policy
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	cfg.Logger.Info("poll ready", slog.String("policy", policy.Name()))
	return poll.New(cfg, amplify.NewFromConfig(awsCfg), sqs.NewFromConfig(awsCfg)), nil
}
