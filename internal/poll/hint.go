package poll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobwatch/jobwatch/internal/stacks"
)

// DetailTypeStackStatus is the detail-type of CloudFormation's stack
// status events on the default bus.
const DetailTypeStackStatus = "CloudFormation Stack Status Change"

// HintResult is what a push hint did.
type HintResult struct {
	Stack, Environment string
	Result
}

// HandleLambda is the poll function's handler: an SQS event from the jobs
// queue (answered with a partial batch response), or an EventBridge
// "CloudFormation Stack Status Change" event for an Amplify backend
// stack, taken as a push hint for its environment in every allowed app.
func (p *Poller) HandleLambda(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Records    json.RawMessage `json:"Records"`
		DetailType string          `json:"detail-type"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("poll takes an SQS event or a CloudFormation stack event: %w", err)
	}
	switch {
	case probe.Records != nil:
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("SQS event: %w", err)
		}
		return p.HandleSQS(ctx, ev)
	case probe.DetailType == DetailTypeStackStatus:
		return p.handleStackEvent(ctx, payload)
	}
	return nil, fmt.Errorf("poll takes an SQS event (Records) or a %q event, not detail-type %q", DetailTypeStackStatus, probe.DetailType)
}

func (p *Poller) handleStackEvent(ctx context.Context, payload []byte) (any, error) {
	defer p.flush(ctx)
	var ev struct {
		Detail struct {
			StackID       string `json:"stack-id"`
			StatusDetails struct {
				Status string `json:"status"`
			} `json:"status-details"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("stack status event: %w", err)
	}
	stack := stackName(ev.Detail.StackID)
	// Nested stacks (an environment's categories) do not match: the root
	// finishes last.
	_, env, ok := stacks.ParseRootStack(stack)
	if !ok {
		p.cfg.Logger.DebugContext(ctx, "stack event is not an Amplify backend root stack; ignored", "stack", stack)
		return HintResult{Stack: stack}, nil
	}
	if len(p.cfg.AppIDs) == 0 {
		return nil, errors.New("push hints need the allowed app ids (ALLOWED_APP_IDS)")
	}
	out := HintResult{Stack: stack, Environment: env}
	var errs []error
	for _, app := range p.cfg.AppIDs {
		res, err := p.Hint(ctx, app, env, ev.Detail.StatusDetails.Status)
		if err != nil {
			errs = append(errs, fmt.Errorf("hint for %s/%s: %w", app, env, err))
			continue
		}
		out.Completed += res.Completed
		out.Lookups += res.Lookups
		out.Dropped += res.Dropped
	}
	p.cfg.Logger.InfoContext(ctx, "push hint", "stack", stack, "environment", env, "status", ev.Detail.StatusDetails.Status,
		"lookups", out.Lookups, "announced", out.Completed)
	return out, errors.Join(errs...)
}

// stackName reads the stack name from a stack id
// (arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>).
func stackName(id string) string {
	_, rest, ok := strings.Cut(id, ":stack/")
	if !ok {
		return id
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}
