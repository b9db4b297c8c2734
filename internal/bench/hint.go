package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/poll"
)

// Hint is a CloudFormation "Stack Status Change" of an environment's
// backend stack reaching poll: look at this environment now.
type Hint struct {
	AppID, BackendEnvironmentName string
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
	// simulated Admin API and queues.
	Poller *poll.Poller
	// PendingTracking returns the tracking messages of an environment that
	// wait on the jobs queue (not yet delivered), oldest first: what poll
	// itself cannot see, for the interim hint path.
	PendingTracking func(appID, env string) []poll.Message
}

// HintPath builds the hint path of a deployment. Point it at the real one
// once poll has it, e.g.
//
//	func(d bench.Deployment) bench.Hinter {
//		return bench.HinterFunc(func(ctx context.Context, h bench.Hint) error {
//			return d.Poller.HandleHint(ctx, h.AppID, h.BackendEnvironmentName)
//		})
//	}
type HintPath func(d Deployment) Hinter

// ViaTrackingMessage is the interim hint path: a hint looks up the
// environment's tracked job at once, by handing its pending tracking
// message to poll's Handle right away (without a NotBefore, so that the
// lookup happens): the message of the job submitted last before the
// stack event, the one the event is about. The message itself stays on the queue: when it comes
// due, poll looks the ended job up again and sends its status change a
// second time, which consumers drop by eventKey (the simulation counts
// these duplicates).
func ViaTrackingMessage(d Deployment) Hinter {
	return HinterFunc(func(ctx context.Context, h Hint) error {
		// The event is about the job that ran then: the one submitted last
		// before it. Older messages belong to jobs seen to end already.
		var (
			latest  *contract.TrackingMessage
			latestM poll.Message
		)
		for _, m := range d.PendingTracking(h.AppID, h.BackendEnvironmentName) {
			t, err := contract.DecodeTrackingMessage([]byte(m.Body))
			if err != nil {
				return fmt.Errorf("hint for %s/%s: %w", h.AppID, h.BackendEnvironmentName, err)
			}
			if t.SubmittedAt.After(h.Time) || (latest != nil && !t.SubmittedAt.After(latest.SubmittedAt)) {
				continue
			}
			latest, latestM = &t, m
		}
		if latest == nil {
			return nil // no job ran then: it was seen to end already
		}
		latest.NotBefore = nil
		b, err := json.Marshal(latest)
		if err != nil {
			return fmt.Errorf("hint for %s/%s: %w", h.AppID, h.BackendEnvironmentName, err)
		}
		msgs := []poll.Message{{ID: "hint-" + latestM.ID, Body: string(b)}}
		if res := d.Poller.Handle(ctx, msgs); len(res.Failed) > 0 {
			return fmt.Errorf("hint for %s/%s: the lookup of job %s failed", h.AppID, h.BackendEnvironmentName, latest.JobID)
		}
		return nil
	})
}

// sortMessages orders messages by their numeric id: by sending order.
func sortMessages(msgs []poll.Message) {
	slices.SortFunc(msgs, func(a, b poll.Message) int {
		x, _ := strconv.ParseUint(a.ID, 10, 64)
		y, _ := strconv.ParseUint(b.ID, 10, 64)
		return cmp.Compare(x, y)
	})
}
