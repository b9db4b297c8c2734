package bench

import (
	"context"
	"time"

	"github.com/jobwatch/jobwatch/internal/poll"
)

// Hint is a CloudFormation "Stack Status Change" of an environment's
// root stack reaching poll: look at the jobs it announces now.
type Hint struct {
	AppID, BackendEnvironmentName string
	// StackStatus is the stack's final status.
	StackStatus string
	// Time is when the stack's status changed (the event's time).
	Time time.Time
}

// A Hinter is poll's hint path. The simulation calls Hint when a hint
// event arrives (one poll invocation each); the Admin API calls and status
// changes it causes are counted like any others, through the deployment's
// Admin API and queues.
type Hinter interface {
	Hint(ctx context.Context, h Hint) error
}

// HinterFunc adapts a function to Hinter.
type HinterFunc func(ctx context.Context, h Hint) error

// Hint implements Hinter.
func (f HinterFunc) Hint(ctx context.Context, h Hint) error { return f(ctx, h) }

// Deployment is what a hint path may use of one simulated deployment.
type Deployment struct {
	// Poller is the deployment's poll core, on the virtual clock, with the
	// simulated Admin API and queues and the tracked jobs in memory.
	Poller *poll.Poller
}

// HintPath builds the hint path of a deployment; PollHints is the real
// one, a test may wrap it to watch the hints go by.
type HintPath func(d Deployment) Hinter

// PollHints is poll's real hint path: Poller.Hint looks at the jobs the
// state table tracks on the environment and announces those that ended;
// their own tracking messages, when due, are dropped without a lookup.
func PollHints(d Deployment) Hinter {
	return HinterFunc(func(ctx context.Context, h Hint) error {
		_, err := d.Poller.Hint(ctx, h.AppID, h.BackendEnvironmentName, h.StackStatus)
		return err
	})
}
