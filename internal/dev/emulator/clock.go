package emulator

import (
	"sync"
	"time"
)

// Clock tells the emulator what time it is. Job statuses are derived from
// it whenever a job is read, so a simulation can run hours of jobs in
// milliseconds by moving a ManualClock.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told to, for tests and
// simulations on virtual time. It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock standing at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.move(func(t time.Time) time.Time { return t.Add(d) })
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) { c.move(func(time.Time) time.Time { return t }) }

// move changes the time in one step, so that concurrent moves all count.
func (c *ManualClock) move(to func(time.Time) time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = to(c.now)
}
