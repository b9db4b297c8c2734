package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// batcher is what the batch sinks (EventBridge's PutEvents, SNS's
// PublishBatch) share: calls of bounded entries and bytes, and resending
// only the entries a call failed, after a jittered backoff, until
// maxAttempts calls were made for them.
type batcher struct {
	service     string // names the service in log lines: "EventBridge", "SNS"
	maxEntries  int    // entries per call
	maxBytes    int    // bytes per call, as entrySize counts them
	maxAttempts int
	backoff     *retry.ExponentialJitterBackoff
	log         *slog.Logger
}

// newBatcher returns a batcher with the sinks' defaults: 3 attempts, a
// 2s backoff cap and slog.Default, where maxAttempts, maxBackoff or log
// are unset.
func newBatcher(service string, maxEntries, maxBytes, maxAttempts int, maxBackoff time.Duration, log *slog.Logger) batcher {
	if maxAttempts <= 0 {
		maxAttempts = 3
	}
	if maxBackoff <= 0 {
		maxBackoff = 2 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return batcher{
		service: service, maxEntries: maxEntries, maxBytes: maxBytes,
		maxAttempts: maxAttempts, backoff: retry.NewExponentialJitterBackoff(maxBackoff), log: log,
	}
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
