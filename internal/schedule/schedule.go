// Package schedule decides when poll looks a tracked job up next. Policies
// take the time as an argument and keep no clock of their own, so the same
// code runs in the poll function and, on a virtual clock, in
// `jobwatch bench`.
package schedule

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxSQSDelay is the longest delay SQS allows on a message; longer waits
// are chained by poll.
const MaxSQSDelay = 900 * time.Second

// Job is what a policy knows about one tracked job.
type Job struct {
	Operation string
	// Started is when the job began: the service's CreateTime when known,
	// else when it was submitted.
	Started time.Time
	// Polls is the number of lookups made so far (at least 1 when Next is
	// asked).
	Polls int
}

// Policy plans lookups.
type Policy interface {
	// Name identifies the policy (as in POLL_POLICY and bench output).
	Name() string
	// Next returns when to look j up again, given that a lookup at now
	// found it still running. The result is after now.
	Next(j Job, now time.Time) time.Time
	// Observe learns from a job that ended (COMPLETED or FAILED) after
	// running for d.
	Observe(operation string, d time.Duration)
}

// Fixed looks up every Interval: amplify-cli polls every 10 s (an older
// version every 2 s).
type Fixed struct{ Interval time.Duration }

// Name implements Policy.
func (f Fixed) Name() string { return fmt.Sprintf("fixed-%s", shortDuration(f.Interval)) }

// Next implements Policy.
func (f Fixed) Next(_ Job, now time.Time) time.Time { return now.Add(f.Interval) }

// Observe implements Policy; a fixed policy learns nothing.
func (Fixed) Observe(string, time.Duration) {}

// Waiter backs off like a smithy SDK waiter: the k-th delay is drawn
// uniformly between Min and min(Max, Min·2^(k-1)) (full jitter).
type Waiter struct {
	Min, Max time.Duration
	mu       sync.Mutex
	rng      *rand.Rand
}

// NewWaiter returns a waiter-style policy with its own seeded randomness.
func NewWaiter(minDelay, maxDelay time.Duration, seed uint64) *Waiter {
	return &Waiter{Min: minDelay, Max: maxDelay, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// Name implements Policy.
func (w *Waiter) Name() string {
	return fmt.Sprintf("waiter-%s-%s", shortDuration(w.Min), shortDuration(w.Max))
}

// Next implements Policy.
func (w *Waiter) Next(j Job, now time.Time) time.Time {
	attempt := max(j.Polls, 1)
	ceiling := w.Max
	if attempt < 40 {
		if d := w.Min << (attempt - 1); d > 0 && d < w.Max {
			ceiling = d
		}
	}
	delay := w.Min
	if ceiling > w.Min {
		w.mu.Lock()
		delay += time.Duration(w.rng.Int64N(int64(ceiling - w.Min)))
		w.mu.Unlock()
	}
	return now.Add(delay)
}

// Observe implements Policy; a waiter learns nothing.
func (*Waiter) Observe(string, time.Duration) {}

// shortDuration writes whole seconds as "120s" (not "2m0s"), as the
// policy names of the bench read.
func shortDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

// Names lists the policies New knows, the default first.
func Names() []string {
	names := []string{"jobwatch", "jobwatch-economy", "jobwatch-hinted", "fixed-2s", "fixed-10s", "waiter-2s-120s"}
	sort.Strings(names[1:])
	return names
}

// New returns the named policy: jobwatch (the default, adaptive),
// jobwatch-economy (adaptive, fewer calls), jobwatch-hinted (for
// deployments whose stack events reach poll: sparse lookups for jobs a
// hint announces), fixed-2s, fixed-10s or waiter-2s-120s. seed feeds the
// policies that draw random delays.
func New(name string, seed uint64) (Policy, error) {
	switch name {
	case "", "jobwatch":
		return NewAdaptive(Default), nil
	case "jobwatch-economy":
		return NewAdaptive(Economy), nil
	case "jobwatch-hinted":
		return NewHinted(HintedFallback), nil
	case "fixed-2s":
		return Fixed{2 * time.Second}, nil
	case "fixed-10s":
		return Fixed{10 * time.Second}, nil
	case "waiter-2s-120s":
		return NewWaiter(2*time.Second, 120*time.Second, seed), nil
	}
	return nil, fmt.Errorf("unknown poll policy %q; want one of %s", name, strings.Join(Names(), ", "))
}
