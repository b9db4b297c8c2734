package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jobwatch/jobwatch/internal/state"
)

// Claims remember which status changes a sink delivered, so that a
// duplicated or redelivered completion message reaches users once. It is
// the idempotency pattern of Powertools for AWS Lambda: a record is
// claimed IN_PROGRESS (expiring with the invocation) before the delivery,
// marked COMPLETED (expiring after the idempotency window) after it, and
// released if the delivery failed, so that a retry may try again. The
// state table keeps them (*state.Store implements Claims).
type Claims interface {
	// ClaimDelivery takes the delivery k until the given time. It reports
	// done when the change was already delivered; ErrInProgress when
	// another invocation holds the claim.
	ClaimDelivery(ctx context.Context, k state.DeliveryKey, until time.Time) (done bool, err error)
	// CompleteDelivery marks k delivered, remembered until expires.
	CompleteDelivery(ctx context.Context, k state.DeliveryKey, expires time.Time) error
	// ReleaseDelivery gives up a claim whose delivery failed.
	ReleaseDelivery(ctx context.Context, k state.DeliveryKey) error
}

// ErrInProgress says another invocation is delivering the same change;
// the message is redelivered later and then finds it done.
var ErrInProgress = state.ErrDeliveryInProgress

// IdempotencyOptions tune Deduplicate.
type IdempotencyOptions struct {
	// Window is how long a delivered change is remembered (default
	// DefaultIdempotencyWindow, 15 days: beyond the queues' retention and
	// the dead-letter queues' 14 days, so no redelivery or redrive
	// outlives it).
	Window time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Deduplicate wraps a sink so that each status change (by event key) is
// delivered to it at most once, whatever the duplicates and redeliveries:
// changes already delivered count as delivered without reaching the sink.
func Deduplicate(sink Sink, claims Claims, o IdempotencyOptions) Sink {
	if o.Window <= 0 {
		o.Window = DefaultIdempotencyWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &deduplicated{sink: sink, claims: claims, o: o}
}

type deduplicated struct {
	sink   Sink
	claims Claims
	o      IdempotencyOptions
}

// Name implements Sink: the wrapped sink's name.
func (d *deduplicated) Name() string { return d.sink.Name() }

// Publish implements Sink.
func (d *deduplicated) Publish(ctx context.Context, changes []Change) []error {
	errs := make([]error, len(changes))
	until := d.o.Now().Add(time.Minute)
	if deadline, ok := ctx.Deadline(); ok {
		until = deadline.Add(5 * time.Second)
	}
	// One claim per event key: a duplicate within the batch shares the
	// outcome of its first copy.
	first := map[state.DeliveryKey]int{}
	var idx []int
	var claimed []Change
	for i, c := range changes {
		key := d.key(c)
		if j, dup := first[key]; dup {
			errs[i] = dupOf(j)
			continue
		}
		first[key] = i
		done, err := d.claims.ClaimDelivery(ctx, key, until)
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("claim the delivery of %s to %s: %w", key.EventKey, key.Sink, err)
		case done:
		default:
			idx = append(idx, i)
			claimed = append(claimed, c)
		}
	}
	if len(claimed) > 0 {
		for k, err := range publishTo(ctx, d.sink, claimed) {
			i := idx[k]
			key := d.key(changes[i])
			if err != nil {
				errs[i] = err
				if rerr := d.claims.ReleaseDelivery(ctx, key); rerr != nil {
					// The claim expires with the invocation anyway.
					errs[i] = fmt.Errorf("%w (and releasing its claim failed: %w)", err, rerr)
				}
				continue
			}
			// Delivered. Recording it is retried a little; should it still
			// fail, the change counts as delivered all the same: the
			// message is not redelivered, and the IN_PROGRESS claim keeps
			// copies away until it expires.
			for attempt := 0; attempt < 3; attempt++ {
				if d.claims.CompleteDelivery(ctx, key, d.o.Now().Add(d.o.Window)) == nil {
					break
				}
			}
		}
	}
	for i, err := range errs {
		var d dupOf
		if errors.As(err, &d) {
			errs[i] = errs[int(d)]
		}
	}
	return errs
}

// dupOf marks a change whose outcome is that of change i of the batch.
type dupOf int

func (d dupOf) Error() string { return "duplicate of change " + strconv.Itoa(int(d)) }

func (d *deduplicated) key(c Change) state.DeliveryKey {
	return state.DeliveryKey{EventKey: c.EventKey, Sink: d.sink.Name()}
}
