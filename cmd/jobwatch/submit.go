package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/submit"
)

func init() {
	commands["submit"] = command{"ask jobwatch to run an Admin API job: put a job request on its event bus", runSubmit}
}

const submitUsage = `usage: jobwatch submit OPERATION --input JSON|@FILE [flags]

Puts an "Amplify Backend Job Requested" event on jobwatch's event bus, the
same as 'aws events put-events', after checking the request as the submit
function will (operation, input members, an operation that starts a job).
jobwatch then starts the job, waits its turn if the environment is busy,
tracks it and announces its end. With --local the bus is the one
'jobwatch local up' created.

flags:
`

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, submitUsage); fs.PrintDefaults() }
	input := fs.String("input", "", "the operation's input as JSON (boto3 Request Syntax names), or @FILE")
	requestID := fs.String("request-id", "", "your id for the request, for correlation and de-duplication (default: a random one)")
	bus := fs.String("bus", "jobwatch", "the event bus `NAME` (the stack's EventBusName output)")
	source := fs.String("source", "jobwatch.cli", "the event's `SOURCE`")
	region := fs.String("region", "", "AWS region (default: from the AWS configuration)")
	local := fs.Bool("local", false, "put the event on the bus of 'jobwatch local up'")
	statePath := fs.String("state", ".jobwatch/local.json", "state `FILE` of the local stack (with --local)")
	positional, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("want exactly one OPERATION, e.g. CloneBackend\n\n%s", operationList())
	}
	if *input == "" {
		return usagef("want --input with the operation's input, e.g. '{\"AppId\":\"d1abc23\",\"BackendEnvironmentName\":\"dev\",\"TargetEnvironmentName\":\"prtest\"}'")
	}
	raw, err := readInput(*input)
	if err != nil {
		return usagef("%v", err)
	}
	if *requestID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		*requestID = "cli-" + hex.EncodeToString(b)
	}
	req := contract.JobRequest{Operation: positional[0], Input: raw, RequestID: *requestID}
	if err := submit.Check(req); err != nil {
		return usagef("%v", err)
	}
	detail, err := json.Marshal(req)
	if err != nil {
		return err
	}

	var cfg aws.Config
	if *local {
		st, err := devstack.LoadState(*statePath)
		if err != nil {
			return err
		}
		cfg = st.AWS()
		if !flagSet(fs, "bus") {
			for _, b := range st.Stack.Buses {
				*bus = b.Name
			}
		}
	} else {
		var opts []func(*config.LoadOptions) error
		if *region != "" {
			opts = append(opts, config.WithRegion(*region))
		}
		if cfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return fmt.Errorf("load AWS configuration: %w", err)
		}
	}
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(*bus), Source: aws.String(*source),
		DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(string(detail)),
	}}})
	if err != nil {
		return fmt.Errorf("put the job request on bus %s: %w", *bus, err)
	}
	if out.FailedEntryCount > 0 {
		e := out.Entries[0]
		return fmt.Errorf("bus %s refused the job request: %s %s", *bus, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	fmt.Fprintf(stdout, "{\"eventId\":%q,\"requestId\":%q,\"bus\":%q}\n", aws.ToString(out.Entries[0].EventId), *requestID, *bus)
	return nil
}
