package notify

import (
	"context"
	"slices"
)

// Only returns a sink handing sink the changes whose status is among
// statuses; the others count as delivered. It is how SNS_STATUSES and
// SLACK_STATUSES route statuses to the SNS and Slack sinks.
func Only(statuses []string, sink Sink) Sink {
	return &routed{statuses: slices.Clone(statuses), sink: sink}
}

type routed struct {
	statuses []string
	sink     Sink
}

// Name implements Sink: the wrapped sink's name.
func (r *routed) Name() string { return r.sink.Name() }

// Publish implements Sink.
func (r *routed) Publish(ctx context.Context, changes []Change) []error {
	errs := make([]error, len(changes))
	var idx []int
	var some []Change
	for i, c := range changes {
		if slices.Contains(r.statuses, c.Status) {
			idx = append(idx, i)
			some = append(some, c)
		}
	}
	if len(some) == 0 {
		return errs
	}
	for k, err := range publishTo(ctx, r.sink, some) {
		errs[idx[k]] = err
	}
	return errs
}
