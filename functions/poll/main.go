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
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/poll"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
)

func main() {
	p, err := setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "poll: configuration:", err)
		os.Exit(1)
	}
	lambda.Start(p.HandleLambda)
}

// setup reads the configuration once and builds the clients. The
// metrics (EMF) go to stdout with the logs, written at the end of each
// invocation; every Admin API attempt is counted.
func setup(ctx context.Context) (*poll.Poller, error) {
	cfg, err := poll.ReadConfig(settings.FromEnviron(), uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	cfg.Logger = logging.New(os.Stdout, cfg.LogLevel)
	cfg.Metrics = metrics.New(os.Stdout, cfg.MetricsNamespace)
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.StateTable != "" {
		cfg.Tracked = state.NewFromConfig(awsCfg, cfg.StateTable, state.Options{})
	}
	cfg.Logger.Info("poll ready", slog.String("policy", cfg.Policy.Name()), slog.Duration("stillRunningAfter", cfg.StillRunningAfter),
		slog.Bool("deadLetterQueue", cfg.DeadLetterQueueURL != ""))
	api := amplify.NewFromConfig(awsCfg, amplify.ObserveAttempts(cfg.Metrics.AdminAPIAttempt))
	return poll.New(cfg, api, sqs.NewFromConfig(awsCfg)), nil
}
