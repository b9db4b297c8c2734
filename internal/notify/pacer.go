package notify

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// pacer spaces out posts to one webhook: Slack allows about one message
// per second per webhook and answers 429 beyond short bursts. It also
// holds every post back while Slack's Retry-After runs.
type pacer struct {
	interval time.Duration

	mu   sync.Mutex
	next time.Time // the earliest time of the next post
}

func newPacer(interval time.Duration) *pacer { return &pacer{interval: interval} }

// errNoTime is the error of a wait that would outlast the context's
// deadline.
type errNoTime struct {
	wait time.Duration
	why  string
}

func (e *errNoTime) Error() string {
	return fmt.Sprintf("%s: the next post may go in %v, after the invocation's deadline", e.why, e.wait.Round(time.Millisecond))
}

// wait takes the next slot and sleeps until it comes. It fails at once,
// taking no slot, when the slot comes after ctx's deadline, and when ctx
// ends while it sleeps.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	d := slot.Sub(now)
	if deadline, ok := ctx.Deadline(); ok && slot.After(deadline) {
		p.mu.Unlock()
		return &errNoTime{d, "rate limit (one message per second per webhook)"}
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()
	return sleep(ctx, d)
}

// holdUntil keeps every post back until t, as a 429's Retry-After asks.
func (p *pacer) holdUntil(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.next) {
		p.next = t
	}
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
