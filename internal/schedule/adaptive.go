package schedule

import (
	"slices"
	"sync"
	"time"
)

// AdaptiveConfig tunes an Adaptive policy.
type AdaptiveConfig struct {
	// Name is the policy's name.
	Name string
	// Dense is the interval while a job is likely to end: inside the
	// window between the LowQuantile and HighQuantile of the durations seen
	// for its operation. It bounds the detection lag of most jobs.
	Dense time.Duration
	// Cold is the interval for an operation with fewer than MinSamples
	// finished jobs: nothing is known yet, so poll steadily.
	Cold time.Duration
	// LowQuantile and HighQuantile bound the dense window.
	LowQuantile, HighQuantile float64
	// TailFactor sets the interval past the window to TailFactor times the
	// time already spent past it (geometric back-off), clamped to
	// [Dense, MaxInterval]: a job running far longer than its peers is
	// likely stuck, and is looked at ever more rarely.
	TailFactor float64
	// MaxInterval caps every interval.
	MaxInterval time.Duration
	// MinSamples is how many finished jobs of an operation are needed
	// before their durations are trusted.
	MinSamples int
	// Window is how many recent durations per operation are kept; older
	// ones are forgotten, so the policy follows drift.
	Window int
}

// Default is the deployed policy: detection lag like polling every 10 s,
// with far fewer lookups.
var Default = AdaptiveConfig{
	Name: "jobwatch", Dense: 8 * time.Second, Cold: 8 * time.Second,
	LowQuantile: 0.02, HighQuantile: 0.98, TailFactor: 0.25,
	MaxInterval: 15 * time.Minute, MinSamples: 10, Window: 256,
}

// Economy is the same policy at a cheaper setting: fewer lookups than an
// SDK waiter, with a small fraction of its lag.
var Economy = AdaptiveConfig{
	Name: "jobwatch-economy", Dense: 20 * time.Second, Cold: 20 * time.Second,
	LowQuantile: 0.02, HighQuantile: 0.98, TailFactor: 0.5,
	MaxInterval: 15 * time.Minute, MinSamples: 10, Window: 256,
}

// Adaptive learns, per operation, how long jobs run, and looks a job up
// densely only while it is likely to end: it jumps over the start of a job
// (nothing ends that early), polls every Dense through the bulk of the
// durations seen, then backs off. It starts knowing nothing; until an
// operation has MinSamples finished jobs it polls every Cold.
type Adaptive struct {
	cfg AdaptiveConfig
	mu  sync.Mutex
	ops map[string]*durations
}

// durations keeps the recent durations of one operation and the window
// they imply.
type durations struct {
	ring   []time.Duration
	next   int
	lo, hi time.Duration
}

// NewAdaptive returns an adaptive policy that knows nothing yet.
func NewAdaptive(cfg AdaptiveConfig) *Adaptive {
	return &Adaptive{cfg: cfg, ops: map[string]*durations{}}
}

// Name implements Policy.
func (a *Adaptive) Name() string { return a.cfg.Name }

// Config returns the policy's settings.
func (a *Adaptive) Config() AdaptiveConfig { return a.cfg }

// Observe implements Policy.
func (a *Adaptive) Observe(operation string, d time.Duration) {
	if d < 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.ops[operation]
	if s == nil {
		s = &durations{}
		a.ops[operation] = s
	}
	if len(s.ring) < a.cfg.Window {
		s.ring = append(s.ring, d)
	} else {
		s.ring[s.next] = d
		s.next = (s.next + 1) % a.cfg.Window
	}
	sorted := slices.Clone(s.ring)
	slices.Sort(sorted)
	s.lo = quantile(sorted, a.cfg.LowQuantile)
	s.hi = quantile(sorted, a.cfg.HighQuantile)
}

// quantile reads the p-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, p float64) time.Duration {
	i := int(p * float64(len(sorted)))
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Window returns the dense window learnt for an operation and whether
// enough jobs were seen to trust it.
func (a *Adaptive) Window(operation string) (lo, hi time.Duration, known bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.ops[operation]
	if s == nil || len(s.ring) < a.cfg.MinSamples {
		return 0, 0, false
	}
	return s.lo, s.hi, true
}

// Next implements Policy.
func (a *Adaptive) Next(j Job, now time.Time) time.Time {
	lo, hi, known := a.Window(j.Operation)
	if !known {
		return now.Add(a.cfg.Cold)
	}
	elapsed := now.Sub(j.Started)
	var next time.Time
	switch {
	case elapsed < lo:
		// Nothing ends this early: look again where endings begin.
		next = j.Started.Add(lo)
	case elapsed < hi:
		next = now.Add(a.cfg.Dense)
	default:
		past := time.Duration(float64(elapsed-hi) * a.cfg.TailFactor)
		next = now.Add(min(max(past, a.cfg.Dense), a.cfg.MaxInterval))
	}
	if next.Sub(now) > a.cfg.MaxInterval {
		next = now.Add(a.cfg.MaxInterval)
	}
	if next.Sub(now) < time.Second {
		next = now.Add(time.Second)
	}
	return next
}
