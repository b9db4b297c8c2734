package bench

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// HintedPolicy is the policy that gets hints (schedule.Hinted): sparse
// lookups for the jobs whose stack's status change announces their end, the
// default policy for the others.
const HintedPolicy = "jobwatch-hinted"

// Policies lists the policies of a default run, side by side.
func Policies() []string {
	return []string{"fixed-2s", "fixed-10s", "waiter-2s-120s", "jobwatch", "jobwatch-economy", HintedPolicy}
}

// newPolicy returns a fresh instance of the named policy (it knows
// nothing yet) and whether it gets hints.
func newPolicy(name string, seed uint64) (schedule.Policy, bool, error) {
	p, err := schedule.New(name, seed)
	if err != nil {
		return nil, false, fmt.Errorf("unknown policy %q; want one of %s", name, strings.Join(Policies(), ", "))
	}
	return p, name == HintedPolicy, nil
}

// Options configure a run.
type Options struct {
	Workload Workload
	// Policies to compare; Policies() when empty.
	Policies []string
	// Hints is the hint path of the policies that get hints;
	// PollHints when nil.
	Hints HintPath
	// Custom adds policies built by the caller (e.g. other adaptive
	// settings), with whether they get hints.
	Custom []CustomPolicy
	// Parallel bounds the policies simulated at once; 0 means all.
	Parallel int
}

// CustomPolicy is a policy a caller brings to a run.
type CustomPolicy struct {
	New   func() schedule.Policy
	Hints bool
}

// Run simulates the workload under each policy, side by side, and reports.
func Run(ctx context.Context, opts Options) (*Report, error) {
	w := opts.Workload
	if err := w.Check(); err != nil {
		return nil, err
	}
	names := opts.Policies
	if len(names) == 0 && len(opts.Custom) == 0 {
		names = Policies()
	}
	type job struct {
		policy schedule.Policy
		hints  bool
	}
	var jobs []job
	for _, n := range names {
		p, hints, err := newPolicy(n, w.Seed)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job{p, hints})
	}
	for _, c := range opts.Custom {
		jobs = append(jobs, job{c.New(), c.Hints})
	}
	hintPath := opts.Hints
	if hintPath == nil {
		hintPath = PollHints
	}
	reqs := w.requests()
	results := make([]PolicyResult, len(jobs))
	errs := make([]error, len(jobs))
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	// One simulation per core, the costliest first (the fixed policies
	// look up the most), so that the longest one does not share a core.
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cost(jobs[b].policy), cost(jobs[a].policy)) })
	next := make(chan int, len(order))
	for _, i := range order {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(parallel, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				var hp HintPath
				if j.hints {
					hp = hintPath
				}
				start := time.Now()
				s := newSim(ctx, w, reqs, j.policy, hp)
				if err := s.run(); err != nil {
					errs[i] = fmt.Errorf("simulate %s: %w", j.policy.Name(), err)
					continue
				}
				results[i] = s.result(j.policy.Name(), j.hints)
				results[i].wall = time.Since(start)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	rep := &Report{Workload: w.summary(), Prices: CurrentPrices(), Policies: results, Counted: counted()}
	rep.Targets = targets(w, results)
	return rep, nil
}

// cost ranks a policy by how many lookups it is likely to make: a fixed
// policy by its interval, the others as a fixed policy of 20 s.
func cost(p schedule.Policy) float64 {
	if f, ok := p.(schedule.Fixed); ok && f.Interval > 0 {
		return 1 / f.Interval.Seconds()
	}
	return 1.0 / 20
}

// result turns a finished run's counts into its PolicyResult.
func (s *sim) result(name string, hints bool) PolicyResult {
	n := float64(len(s.reqs))
	qc := s.queues.counts
	span := s.c.lastEvent
	idle := int(numQueues) * esmPollers * int(span/esmLongPoll)
	var q SQSRequests
	for _, c := range qc {
		q.Send += c.SendCalls
		q.Receive += c.Receives
		q.Delete += c.Deletes
		q.Billed += c.Billed
	}
	q.IdleReceive = idle
	q.Billed += idle
	inv := Invocations{Submit: s.c.submitInvocations, Poll: s.c.pollInvocations, Notify: s.c.notifyInvocations, Hint: s.c.hintInvocations}
	events := s.c.requestEvents + s.c.statusEvents
	prices := CurrentPrices()
	cost := prices.cost(inv, q.Billed, events)
	lags := slices.Clone(s.c.lags)
	slices.Sort(lags)
	r := PolicyResult{
		Name:                    name,
		APICallsPerJob:          round(float64(s.api.gets+s.api.lists)/n, 3),
		LambdaInvocationsPerJob: round(float64(inv.total())/n, 3),
		SQSRequestsPerJob:       round(float64(q.Billed)/n, 3),
		LagP50Seconds:           quantileSeconds(lags, 0.50),
		LagP95Seconds:           quantileSeconds(lags, 0.95),
		LagP99Seconds:           quantileSeconds(lags, 0.99),
		LagMaxSeconds:           quantileSeconds(lags, 1),
		CostPer1000JobsUSD:      round(cost.TotalUSD/n*1000, 5),
		Hints:                   hints,
		GetBackendJob:           s.api.gets,
		ListBackendJobs:         s.api.lists,
		LookupsAfterEnd:         s.api.afterEnd,
		PeakAPICallsPerSecond:   s.api.peak,
		SubmitAPICalls:          s.c.submitCalls,
		Invocations:             inv,
		SQS:                     q,
		EventBridgeEvents:       events,
		Cost:                    cost,
		Ended: Ended{
			Completed: s.c.ended[contract.StatusCompleted], Failed: s.c.ended[contract.StatusFailed],
			TimedOut: s.c.ended[contract.StatusTimedOut], Lost: s.c.ended[contract.StatusLost],
			TimedOutWaiting: s.c.timedOutWaiting, NotEnded: 0,
		},
		LaggedJobs:         len(lags),
		Duplicates:         s.c.duplicates,
		DuplicateConflicts: s.c.conflicts,
		Mismatches:         s.c.mismatches,
		StillRunning:       s.c.stillRunning,
		StuckReleased:      s.c.released,
		PollItemFailures:   s.c.pollItemFailures,
		HintErrors:         s.c.hintErrors,
		HintRequeues:       s.c.hintRequeues,
		SimulatedHours:     round(span.Hours(), 2),
	}
	for i := range s.state {
		if !s.state[i].ended {
			r.Ended.NotEnded++
		}
	}
	r.Operations = s.byOperation()
	return r
}

// byOperation splits the Admin API calls and the lag by operation.
func (s *sim) byOperation() map[string]OperationResult {
	jobs := map[string]int{}
	for _, r := range s.reqs {
		jobs[r.op]++
	}
	out := map[string]OperationResult{}
	for op, n := range jobs {
		lags := slices.Clone(s.c.lagsByOp[op])
		slices.Sort(lags)
		out[op] = OperationResult{Jobs: n, APICallsPerJob: round(float64(s.api.byOp[op])/float64(n), 3),
			LagP95Seconds: quantileSeconds(lags, 0.95), LagP99Seconds: quantileSeconds(lags, 0.99)}
	}
	return out
}

// quantileSeconds is the nearest-rank p-quantile of sorted lags, in
// seconds (0 without lags).
func quantileSeconds(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return round(sorted[min(max(i, 0), len(sorted)-1)].Seconds(), 3)
}

func round(v float64, digits int) float64 {
	f := math.Pow(10, float64(digits))
	return math.Round(v*f) / f
}
