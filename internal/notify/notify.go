package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// Change is a decoded status change and the id of the message it came
// from. Sinks identify it by its EventKey, one per job and status.
type Change struct {
	MessageID string
	contract.StatusChange
}

// A Sink delivers status changes somewhere: the event bus, a topic, a
// chat. Publish returns one error per change, in order, nil where the
// change was delivered; one bad change must not fail the others. Name
// labels log lines. A sink may wrap another, e.g. to skip the changes
// whose EventKey it already delivered.
type Sink interface {
	Name() string
	Publish(ctx context.Context, changes []Change) []error
}

// Notifier publishes the status changes of completions-queue messages to
// every one of its sinks; the sinks of a batch run side by side. A sink
// meant for some statuses only is wrapped with Only.
type Notifier struct {
	sinks  []Sink
	log    *slog.Logger
	o      Options
	sender *queue.Sender // sends what o says, when o.SQS is set
}

// New returns a Notifier logging to log and publishing to sinks, which
// leaves every message it could not deliver for redelivery.
func New(log *slog.Logger, sinks ...Sink) *Notifier { return NewWithOptions(log, Options{}, sinks...) }

// NewWithOptions returns a Notifier logging to log and publishing to
// sinks, which settles the messages it could not deliver as o says.
func NewWithOptions(log *slog.Logger, o Options, sinks ...Sink) *Notifier {
	if o.SQS == nil {
		o.QueueURL, o.DeadLetterURL = "", ""
	}
	return &Notifier{sinks: sinks, log: log, o: o, sender: queue.NewSender(o.SQS)}
}

// Notify publishes the status change of each message to every sink and
// settles those not delivered everywhere (see Options): it returns the
// ids of the messages to redeliver, in the order received. A message
// whose change every sink delivered is never among them. The sinks stop
// a little before ctx's deadline, so that what follows still has time.
func (n *Notifier) Notify(ctx context.Context, msgs []queue.Message) (failed []string) {
	publishCtx := ctx
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 2*reserve {
		var cancel context.CancelFunc
		publishCtx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	problems := make(map[string][]error)
	changes := make([]Change, 0, len(msgs))
	for _, m := range msgs {
		s, err := contract.DecodeStatusChange([]byte(m.Body))
		if err == nil && !contract.IsKnownStatus(s.Status) {
			err = &contract.FieldError{Message: "status change", Field: "status", Problem: fmt.Sprintf("is %q, not a status this version of jobwatch knows", s.Status)}
		}
		if err != nil {
			lctx := ctx
			if s.AppID != "" { // what could be decoded still tells which job it is about
				lctx = logging.With(ctx, logging.Job(s.AppID, s.BackendEnvironmentName, s.JobID)...)
			}
			n.log.ErrorContext(lctx, "malformed completion message; it goes to the dead-letter queue",
				"messageId", m.ID, "error", err.Error())
			problems[m.ID] = []error{refusal{err}}
			continue
		}
		changes = append(changes, Change{MessageID: m.ID, StatusChange: s})
	}
	if len(changes) > 0 {
		n.publishAll(publishCtx, changes, problems)
	}
	return n.settle(ctx, msgs, problems)
}

// publishAll runs the sinks side by side, then logs each change's outcome
// and records in problems, by message, what each failing sink answered.
func (n *Notifier) publishAll(ctx context.Context, changes []Change, problems map[string][]error) {
	results := make([][]error, len(n.sinks))
	var wg sync.WaitGroup
	for i, sink := range n.sinks {
		wg.Go(func() { results[i] = publishTo(ctx, sink, changes) })
	}
	wg.Wait()

	for i, c := range changes {
		lctx := jobContext(ctx, c)
		ok := true
		for j, sink := range n.sinks {
			if err := results[j][i]; err != nil {
				ok = false
				n.log.ErrorContext(lctx, "status change not delivered; the message will be redelivered",
					"messageId", c.MessageID, "eventKey", c.EventKey, "status", c.Status, "sink", sink.Name(), "error", err.Error())
				problems[c.MessageID] = append(problems[c.MessageID], fmt.Errorf("%s: %w", sink.Name(), err))
			}
		}
		if ok {
			n.log.InfoContext(lctx, "status change published",
				"messageId", c.MessageID, "eventKey", c.EventKey, "status", c.Status)
		}
	}
}

// publishTo runs one sink, holding it to one result per change.
func publishTo(ctx context.Context, sink Sink, changes []Change) []error {
	errs := sink.Publish(ctx, changes)
	if len(errs) == len(changes) {
		return errs
	}
	err := fmt.Errorf("sink %s returned %d results for %d changes", sink.Name(), len(errs), len(changes))
	errs = make([]error, len(changes))
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// jobContext returns ctx with c's job on its log lines.
func jobContext(ctx context.Context, c Change) context.Context {
	return logging.With(ctx, logging.Job(c.AppID, c.BackendEnvironmentName, c.JobID)...)
}
