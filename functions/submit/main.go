// Command submit is the jobwatch submit function (provided.al2023, arm64):
// it starts Amplify Admin API jobs from EventBridge events or direct
// invocations and moves the waiting lines along from the waiting queue.
// The logic lives in internal/submit; this file only wires it.
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
	"github.com/jobwatch/jobwatch/internal/submit"
)

func main() {
	s, err := setup(context.Background(), settings.FromEnviron())
	if err != nil {
		fmt.Fprintf(os.Stderr, "submit: %v\n", err)
		os.Exit(1)
	}
	// The handler takes the raw payload (SQS event, EventBridge event or
	// job request) and returns a submit.Result or an
	// events.SQSEventResponse.
	lambda.Start(s.HandleLambda)
}

// setup reads the configuration once and builds the clients once, for
// every invocation of this execution environment.
func setup(ctx context.Context, env *settings.Env) (*submit.Submitter, error) {
	cfg, err := submit.ReadConfig(env)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	// The metrics (EMF) go to stdout with the logs, written at the end of
	// each invocation; every Admin API attempt is counted.
	rec := metrics.New(os.Stdout, cfg.MetricsNamespace)
	api := amplify.NewFromConfig(awsCfg, amplify.ObserveAttempts(rec.AdminAPIAttempt))
	return submit.New(cfg, submit.Clients{
		AdminAPI: submit.ClientCall(api),
		Jobs:     api,
		SQS:      sqs.NewFromConfig(awsCfg),
		State:    state.NewFromConfig(awsCfg, cfg.StateTable, state.Options{}),
		Metrics:  rec,
	}, time.Now, logging.New(os.Stdout, cfg.LogLevel))
}
