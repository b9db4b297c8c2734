package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

func init() {
	commands["call"] = command{"call an Amplify Admin API operation and print its output as JSON", runCall}
}

const callUsage = `usage: jobwatch call OPERATION [--input JSON|@FILE] [--endpoint-url URL] [--region REGION]

Calls one Amplify Admin API operation and prints its output as JSON, like
'aws amplifybackend <operation>'. OPERATION is the API name (CloneBackend),
the boto3 name (clone_backend) or the CLI name (clone-backend). The input
uses the member names of the boto3 Request Syntax, e.g.
  jobwatch call CloneBackend --input '{"AppId":"d1","BackendEnvironmentName":"dev","TargetEnvironmentName":"preview"}'
Credentials and region come from the standard AWS chain (environment,
profile, role); AWS_ENDPOINT_URL_AMPLIFYBACKEND points at another endpoint.
`

func operationList() string {
	var names []string
	for _, op := range amplify.Operations() {
		names = append(names, op.Name)
	}
	return "operations:\n  " + strings.Join(names, "\n  ") + "\n"
}

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, callUsage+"\n"+operationList()) }
	input := fs.String("input", "{}", "operation input as JSON, or @FILE to read it from FILE")
	endpoint := fs.String("endpoint-url", "", "send requests to this endpoint instead of AWS (e.g. http://127.0.0.1:4510)")
	region := fs.String("region", "", "AWS region (default: from the AWS configuration)")
	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return err
		}
		return usagef("%v\n\n%s", err, operationList())
	}
	if len(positional) != 1 {
		return usagef("want exactly one OPERATION, got %d\n\n%s%s", len(positional), callUsage, operationList())
	}
	op, err := amplify.LookupOperation(positional[0])
	if err != nil {
		return usagef("%v\n\n%s", err, operationList())
	}
	raw, err := readInput(*input)
	if err != nil {
		return usagef("%v", err)
	}
	in, err := op.DecodeInput(raw)
	if err != nil {
		return usagef("%v", err)
	}

	var loadOpts []func(*config.LoadOptions) error
	if *region != "" {
		loadOpts = append(loadOpts, config.WithRegion(*region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	client := amplify.NewFromConfig(cfg, func(o *amplify.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})
	out, err := op.Call(ctx, client, in)
	if err != nil {
		return apiFailure(op.Name, err)
	}
	body, err := amplify.EncodeOutput(out)
	if err != nil {
		return fmt.Errorf("encode %s output: %w", op.Name, err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "    "); err != nil {
		return fmt.Errorf("format %s output: %w", op.Name, err)
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

func readInput(s string) ([]byte, error) {
	if name, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read --input file: %w", err)
		}
		return b, nil
	}
	return []byte(s), nil
}

// apiFailure reports a failed call the way the aws CLI does: the error
// code, the operation and the message, then the request id.
func apiFailure(opName string, err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	msg := fmt.Sprintf("An error occurred (%s) when calling the %s operation: %s", apiErr.ErrorCode(), opName, apiErr.ErrorMessage())
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.ServiceRequestID() != "" {
		msg += "\nRequest ID: " + re.ServiceRequestID()
	}
	return &exitError{code: 254, msg: msg}
}
