// Command sweep is the Lambda function that discovers Amplify Admin API
// jobs started outside jobwatch, on a schedule, and starts tracking them.
// It only wires; internal/sweep decides.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
	"github.com/jobwatch/jobwatch/internal/sweep"
)

func main() {
	cfg, err := sweep.ReadConfig(settings.FromEnviron())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sweep: configuration:", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sweep: load AWS configuration:", err)
		os.Exit(1)
	}
	rec := metrics.New(os.Stdout, cfg.MetricsNamespace)
	s := sweep.New(cfg, sweep.Clients{
		AdminAPI: amplify.NewFromConfig(awsCfg, amplify.ObserveAttempts(rec.AdminAPIAttempt)),
		SQS:      sqs.NewFromConfig(awsCfg),
		State:    state.NewFromConfig(awsCfg, cfg.StateTable, state.Options{}),
		Metrics:  rec,
	}, time.Now, logging.New(os.Stdout, cfg.LogLevel))
	lambda.Start(s.HandleLambda)
}
