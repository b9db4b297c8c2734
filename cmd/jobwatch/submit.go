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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/state"
	"github.com/jobwatch/jobwatch/internal/submit"
)

func init() {
	commands["submit"] = command{"ask jobwatch to run an Admin API job: put a job request on its event bus", runSubmit}
}

const submitUsage = `usage: jobwatch submit OPERATION --input JSON|@FILE [--local | --stack NAME] [--wait [--timeout D] [--json]]

Puts an "Amplify Backend Job Requested" event on jobwatch's event bus, the
same as 'aws events put-events', after checking the request as the submit
function will (operation, input members, an operation that starts a job).
jobwatch then starts the job, waits its turn if the environment is busy,
tracks it and announces its end. With --local the bus is the one
'jobwatch local up' created; with --stack, the deployed stack's.

With --wait it follows the request to its end in jobwatch's state table,
progress on stderr, and exits 0 when the job COMPLETED, 1 when it FAILED
(or the request was refused), 3 when it TIMED_OUT or was LOST, 4 when
--timeout passed first (jobwatch keeps watching it), 2 for bad arguments
(nothing is submitted). --json prints the status change on stdout. A CI
role needs events:PutEvents on the bus, dynamodb:GetItem on the table and,
with --stack, cloudformation:DescribeStacks (see the README).

flags:
`

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, submitUsage); fs.PrintDefaults() }
	var t targetFlags
	t.add(fs)
	fs.StringVar(&t.state, "state", defaultStatePath, "state `FILE` of the local stack (with --local)")
	input := fs.String("input", "", "the operation's input as JSON (boto3 Request Syntax names), or @FILE")
	requestID := fs.String("request-id", "", "your id for the request, for correlation and de-duplication (default: a random one)")
	source := fs.String("source", "jobwatch.cli", "the event's `SOURCE`")
	wait := fs.Bool("wait", false, "follow the request to its end; the exit status tells the outcome")
	timeout := fs.Duration("timeout", 0, "with --wait, stop waiting after `DURATION` (exit status 4; default: until jobwatch decides)")
	asJSON := fs.Bool("json", false, "with --wait, print the status change that ended the request on stdout")
	positional, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) != 1:
		return usagef("want exactly one OPERATION, e.g. CloneBackend\n\n%s", operationList())
	case *input == "":
		return usagef("want --input with the operation's input, e.g. '{\"AppId\":\"d1abc23\",\"BackendEnvironmentName\":\"dev\",\"TargetEnvironmentName\":\"preview\"}'")
	case *timeout < 0:
		return usagef("--timeout %s: want a positive duration", *timeout)
	case !*wait && (flagSet(fs, "timeout") || *asJSON):
		return usagef("--timeout and --json go with --wait")
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
	d, err := t.resolve(ctx, *wait)
	if err != nil {
		return err
	}
	var view *state.View
	if *wait { // the table must be readable before anything is submitted
		view = state.NewView(dynamodb.NewFromConfig(d.cfg), d.table)
		if _, err := view.Follow(ctx, *requestID); err != nil {
			return d.userError(err)
		}
	}
	eventID, err := putRequest(ctx, d, *source, detail)
	if err != nil {
		return err
	}
	if !*wait {
		fmt.Fprintf(stdout, "{\"eventId\":%q,\"requestId\":%q,\"bus\":%q}\n", eventID, *requestID, d.bus)
		return nil
	}
	fmt.Fprintf(stderr, "jobwatch: request %s (%s) is on bus %s; following it in %s\n", *requestID, req.Operation, d.bus, d.name)
	return waitFor(ctx, view, *requestID, *timeout, *asJSON, stdout, stderr)
}

// putRequest puts the job request on the deployment's bus.
func putRequest(ctx context.Context, d *deployment, source string, detail []byte) (eventID string, err error) {
	out, err := eventbridge.NewFromConfig(d.cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(d.bus), Source: aws.String(source),
		DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(string(detail)),
	}}})
	if err != nil {
		return "", d.userError(fmt.Errorf("put the job request on bus %s: %w", d.bus, err))
	}
	if out.FailedEntryCount > 0 {
		e := out.Entries[0]
		return "", fmt.Errorf("bus %s refused the job request: %s %s", d.bus, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	return aws.ToString(out.Entries[0].EventId), nil
}
