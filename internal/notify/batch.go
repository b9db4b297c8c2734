package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// ResendOptions bound how a batch sink (EventBridge, SNS) resends the
// entries a call failed for the service's own reasons.
type ResendOptions struct {
	// MaxAttempts bounds the calls made for one entry; 3 when 0.
	MaxAttempts int
	// MaxBackoff caps the jittered wait before resending; 2s when 0.
	MaxBackoff time.Duration
}

// batcher is what the batch sinks (EventBridge's PutEvents, SNS's
// PublishBatch) share, embedded in each: their name, calls of bounded
// entries and bytes, and resending only the entries a call failed, after
// a jittered backoff, until maxAttempts calls were made for them.
type batcher struct {
	name        string // the sink's name: "eventbridge", "sns"
	service     string // names the service in log lines: "EventBridge", "SNS"
	maxEntries  int    // entries per call
	maxBytes    int    // bytes per call, as entrySize counts them
	maxAttempts int
	backoff     *retry.ExponentialJitterBackoff
	log         *slog.Logger
}

// newBatcher returns a batcher with the sinks' defaults where resend or
// log leave them unset: 3 attempts, a 2s backoff cap, slog.Default.
func newBatcher(name, service string, maxEntries, maxBytes int, resend ResendOptions, log *slog.Logger) batcher {
	if resend.MaxAttempts <= 0 {
		resend.MaxAttempts = 3
	}
	if resend.MaxBackoff <= 0 {
		resend.MaxBackoff = 2 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return batcher{
		name: name, service: service, maxEntries: maxEntries, maxBytes: maxBytes,
		maxAttempts: resend.MaxAttempts, backoff: retry.NewExponentialJitterBackoff(resend.MaxBackoff), log: log,
	}
}

// Name implements Sink.
func (b batcher) Name() string { return b.name }

// publish is a batch sink's Publish: entry builds change i's entry (its
// error, e.g. for an entry over the call's size limit, fails the change
// unsent), and the rest are sent (see send) with call, which makes one
// call for the changes at idx, records each one's outcome in errs and
// returns those worth resending.
func publish[E any](ctx context.Context, b batcher, changes []Change, entry func(i int, c Change) (E, error), size func(E) int,
	call func(entries []E, errs []error, idx []int) (resend []int)) []error {
	errs := make([]error, len(changes))
	entries := make([]E, len(changes))
	var pending []int // indexes of the changes still to send
	for i, c := range changes {
		e, err := entry(i, c)
		if err != nil {
			errs[i] = err
			continue
		}
		entries[i] = e
		pending = append(pending, i)
	}
	b.send(ctx, changes, errs, pending,
		func(i int) int { return size(entries[i]) },
		func(idx []int) []int { return call(entries, errs, idx) })
	return errs
}

// send sends the changes at pending: size is the bytes of change i's
// entry, call makes one call for the changes at idx, records each one's
// outcome in errs and returns those worth resending. On return errs
// holds each change's final outcome.
func (b batcher) send(ctx context.Context, changes []Change, errs []error, pending []int,
	size func(i int) int, call func(idx []int) (resend []int)) {
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			if err := backoffSleep(ctx, b.backoff, attempt-1); err != nil {
				for _, i := range pending {
					errs[i] = fmt.Errorf("%w (not resent: %w)", errs[i], err)
				}
				return
			}
		}
		var resend []int
		for _, idx := range b.chunks(pending, size) {
			for _, i := range call(idx) {
				if attempt == b.maxAttempts {
					errs[i] = fmt.Errorf("%w (after %d attempts)", errs[i], attempt)
					continue
				}
				b.log.WarnContext(jobContext(ctx, changes[i]), b.service+" failed an entry; resending it",
					"eventKey", changes[i].EventKey, "attempt", attempt, "error", errs[i].Error())
				resend = append(resend, i)
			}
		}
		pending = resend
	}
}

// chunks splits the indexes into calls within the limits, keeping their
// order.
func (b batcher) chunks(idx []int, size func(i int) int) [][]int {
	var calls [][]int
	var cur []int
	total := 0
	for _, i := range idx {
		n := size(i)
		if len(cur) == b.maxEntries || (len(cur) > 0 && total+n > b.maxBytes) {
			calls = append(calls, cur)
			cur, total = nil, 0
		}
		cur = append(cur, i)
		total += n
	}
	if len(cur) > 0 {
		calls = append(calls, cur)
	}
	return calls
}

// backoffSleep sleeps before resend number n, or until ctx is done.
func backoffSleep(ctx context.Context, b *retry.ExponentialJitterBackoff, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := b.BackoffDelay(n, nil)
	if err != nil {
		return fmt.Errorf("backoff: %w", err)
	}
	return sleep(ctx, d)
}
