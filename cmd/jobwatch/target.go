package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/jobwatch/jobwatch/internal/dev/devstack"
)

// deployment is a jobwatch stack a command works with: the local one, or
// one deployed to an AWS account.
type deployment struct {
	cfg   aws.Config
	bus   string // its event bus (EventBusName)
	table string // its state table (StateTableName)
	name  string // for messages: the stack's name, or the local state file
}

// targetFlags are the flags that say which deployment: --local (with
// --state FILE), or --stack NAME (its outputs name the rest), or --bus
// and --table given outright; --region for the deployed ones.
type targetFlags struct {
	local  bool
	state  string
	stack  string
	bus    string
	table  string
	region string
}

// add registers the flags on fs; the state file flag is left to the
// caller (jobs gives --state a second meaning).
func (t *targetFlags) add(fs *flag.FlagSet) {
	fs.BoolVar(&t.local, "local", false, "the local stack ('jobwatch local up' and 'jobwatch local start')")
	fs.StringVar(&t.stack, "stack", "", "the deployed stack `NAME` (its outputs name the bus and the table)")
	fs.StringVar(&t.bus, "bus", "", "the event bus `NAME` (default: the stack's EventBusName output, or jobwatch)")
	fs.StringVar(&t.table, "table", "", "the state table `NAME` (default: the stack's StateTableName output)")
	fs.StringVar(&t.region, "region", "", "AWS region (default: from the AWS configuration)")
}

// The outputs of template.yaml a command reads.
const (
	outputBus   = "EventBusName"
	outputTable = "StateTableName"
)

// resolve finds the deployment. Its errors are the user's to fix (an
// unknown stack, one without jobwatch's outputs, no credentials, no
// region): usage errors, exit status 2. needTable says the command reads
// the state table.
func (t *targetFlags) resolve(ctx context.Context, needTable bool) (*deployment, error) {
	if t.local {
		if t.stack != "" {
			return nil, usagef("--local and --stack name two different stacks; give one")
		}
		st, err := devstack.LoadState(t.state)
		if err != nil {
			return nil, usagef("%v", err)
		}
		d := &deployment{cfg: st.AWS(), bus: t.bus, table: t.table, name: "the local stack (" + t.state + ")"}
		for _, b := range st.Stack.Buses {
			d.bus = cmp.Or(d.bus, b.Name)
		}
		d.table = cmp.Or(d.table, st.Stack.Tables["StateTable"])
		return d, nil
	}
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})} // errors are told, once, by the command
	if t.region != "" {
		opts = append(opts, config.WithRegion(t.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, usagef("load the AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		return nil, usagef("no AWS region: give --region or set AWS_REGION")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		cause, _, _ := strings.Cut(firstLine(err), ", operation error")
		return nil, usagef("no AWS credentials (from the environment, the shared config and SSO, or a container or instance role): %s", cause)
	}
	d := &deployment{cfg: cfg, bus: t.bus, table: t.table, name: "stack " + t.stack}
	if t.stack == "" {
		if needTable && d.table == "" {
			return nil, usagef("which jobwatch? give --stack NAME (or --table NAME), or --local")
		}
		d.bus, d.name = cmp.Or(d.bus, "jobwatch"), "table "+d.table
		return d, nil
	}
	outputs, err := stackOutputs(ctx, cfg, t.stack)
	if err != nil {
		return nil, err
	}
	d.bus, d.table = cmp.Or(d.bus, outputs[outputBus]), cmp.Or(d.table, outputs[outputTable])
	if d.bus == "" || needTable && d.table == "" {
		return nil, usagef("stack %s in %s has no %s and %s outputs: is it a jobwatch stack (template.yaml)?",
			t.stack, cfg.Region, outputBus, outputTable)
	}
	return d, nil
}

// stackOutputs reads the outputs of a CloudFormation stack.
func stackOutputs(ctx context.Context, cfg aws.Config, stack string) (map[string]string, error) {
	out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist"):
		return nil, usagef("no stack %s in %s (give the name you deployed with, and --region)", stack, cfg.Region)
	case errors.As(err, &apiErr):
		return nil, usagef("read stack %s in %s: %s: %s", stack, cfg.Region, apiErr.ErrorCode(), apiErr.ErrorMessage())
	case err != nil:
		return nil, usagef("read stack %s in %s: %s", stack, cfg.Region, firstLine(err))
	case len(out.Stacks) == 0:
		return nil, usagef("no stack %s in %s", stack, cfg.Region)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs, nil
}

// userErrorCodes are the AWS errors that say the deployment named is
// wrong, or the caller may not use it: the user's to fix.
var userErrorCodes = []string{"ResourceNotFoundException", "AccessDeniedException", "AccessDenied",
	"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken", "InvalidSignatureException"}

// userError makes an AWS error that is the user's to fix (a table or bus
// that is not there, a permission missing, credentials refused) a usage
// error, exit status 2, on one line; others stay as they are.
func (d *deployment) userError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && slices.Contains(userErrorCodes, apiErr.ErrorCode()) {
		return usagef("%s: %s: %s", d.name, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	return err
}

// firstLine is the first line of an error's text: the SDK's credential
// errors run over several.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
