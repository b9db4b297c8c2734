package schedule

import (
	"time"

	"github.com/jobwatch/jobwatch/internal/stacks"
)

// HintedFallback is how Hinted looks up the jobs whose operation changes
// a stack: a push hint (the stack's status change) should announce their
// end, so lookups only catch the hints that do not come. Nothing before
// half the durations seen have passed (a hint is not overdue yet), then one
// every minute — a missed hint costs at most a minute — up to the 99.9 %
// point, then backing off like the default policy (up to 2 h apart).
var HintedFallback = AdaptiveConfig{
	Name: "jobwatch-hinted", Dense: time.Minute, Cold: time.Minute,
	LowQuantile: 0.5, HighQuantile: 0.999, TailFactor: 0.25,
	MaxInterval: 2 * time.Hour, MinSamples: 10, Window: 256,
}

// Hinted is the policy of a deployment that gets push hints: a job whose
// operation changes a CloudFormation stack (stacks.Of) is looked up
// sparsely, by HintedFallback, since its stack's status change announces
// its end; any other job — its operation deploys nothing, so no hint will
// come — by the default policy.
type Hinted struct {
	hinted, plain *Adaptive
}

// NewHinted returns a Hinted policy with fallback as the setting of the
// hinted jobs' lookups (HintedFallback when deployed).
func NewHinted(fallback AdaptiveConfig) *Hinted {
	return &Hinted{hinted: NewAdaptive(fallback), plain: NewAdaptive(Default)}
}

// Name implements Policy.
func (h *Hinted) Name() string { return h.hinted.Name() }

func (h *Hinted) of(operation string) *Adaptive {
	if stacks.Of(operation).Stack == stacks.None {
		return h.plain
	}
	return h.hinted
}

// Next implements Policy.
func (h *Hinted) Next(j Job, now time.Time) time.Time { return h.of(j.Operation).Next(j, now) }

// Observe implements Policy.
func (h *Hinted) Observe(operation string, d time.Duration) { h.of(operation).Observe(operation, d) }

// Deferrer is a policy that may put a job's first lookup off: when
// something else announces a job's end (a push hint), nothing is gained by
// looking before the end is likely.
type Deferrer interface {
	// Defer returns when to look j up first, and whether to wait for it
	// rather than look now.
	Defer(j Job, now time.Time) (time.Time, bool)
}

// Defer implements Deferrer: a job a hint announces is first looked up
// where its peers' endings begin (the fallback's low quantile), once
// enough of them were seen; any other job at once.
func (h *Hinted) Defer(j Job, now time.Time) (time.Time, bool) {
	a := h.of(j.Operation)
	if a != h.hinted {
		return time.Time{}, false
	}
	lo, _, known := a.Window(j.Operation)
	if at := j.Started.Add(lo); known && at.After(now) {
		return at, true
	}
	return time.Time{}, false
}
