package notify

import (
	"context"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/metrics"
)

// Counted wraps sink so that rec counts what reaches it, by Sink:
// Notifications for each change it delivered, NotificationsFailed for
// each it failed. Wrap the sink itself, inside Deduplicate and Only, so
// that changes delivered before or routed elsewhere are not counted.
func Counted(sink Sink, rec *metrics.Recorder) Sink { return &counted{sink: sink, rec: rec} }

type counted struct {
	sink Sink
	rec  *metrics.Recorder
}

// Name implements Sink: the wrapped sink's name.
func (c *counted) Name() string { return c.sink.Name() }

// Publish implements Sink.
func (c *counted) Publish(ctx context.Context, changes []Change) []error {
	errs := publishTo(ctx, c.sink, changes)
	dims := metrics.Dims{"Sink": c.sink.Name()}
	for _, err := range errs {
		if err != nil {
			c.rec.Count(metrics.NotificationsFailed, dims)
		} else {
			c.rec.Count(metrics.Notifications, dims)
		}
	}
	return errs
}

// recordEnd records what a status change put on the bus tells of its
// job: JobsEnded and JobDurationSeconds by Operation and Status for an
// end (not STILL_RUNNING), and, for a job the service ended (COMPLETED,
// FAILED), DetectionLagSeconds by Operation, from its UpdateTime to its
// detection.
func recordEnd(rec *metrics.Recorder, c contract.StatusChange) {
	if !contract.IsTerminal(c.Status) {
		return
	}
	dims := metrics.Dims{"Operation": c.Operation, "Status": c.Status}
	rec.Count(metrics.JobsEnded, dims)
	rec.Add(metrics.JobDurationSeconds, c.DurationSeconds, dims)
	if c.Status != contract.StatusCompleted && c.Status != contract.StatusFailed {
		return
	}
	end, ok := contract.ParseServiceTime(c.UpdateTime)
	detected, ok2 := contract.ParseServiceTime(c.DetectedAt)
	if ok && ok2 && !detected.Before(end) {
		rec.Add(metrics.DetectionLagSeconds, detected.Sub(end).Seconds(), metrics.Dims{"Operation": c.Operation})
	}
}
