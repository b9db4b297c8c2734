package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jobwatch/jobwatch/internal/stacks"
)

// Operations are the job-producing operations of the standard workload,
// in equal shares, with the median duration of their jobs.
var Operations = []OperationMix{
	{"CloneBackend", 10 * time.Minute},
	{"CreateBackendAuth", 5 * time.Minute},
	{"UpdateBackendAPI", 2 * time.Minute},
	{"GenerateBackendAPIModels", time.Minute},
}

// OperationMix is one operation of a workload and the median duration of
// its jobs.
type OperationMix struct {
	Operation string
	Median    time.Duration
}

// Workload describes the jobs of a run. Every policy of a run sees the
// same requests: arrivals, environments, operations, durations, stuck and
// hinted jobs are drawn from Seed before any policy runs.
type Workload struct {
	Jobs int
	Seed uint64
	// Sigma is the σ of the lognormal job durations around each
	// operation's median.
	Sigma float64
	// Envs is the number of backend environments (10 per app); each runs
	// at most one job at a time.
	Envs int
	// Hours is the span of the Poisson arrivals.
	Hours float64
	// StuckRate is the share of jobs that never end; FailRate the share
	// that end FAILED.
	StuckRate, FailRate float64
	Operations          []OperationMix

	// HintDelay is how long after a job's end the CloudFormation "Stack
	// Status Change" of the stack it changed reaches poll, for a HintShare
	// of the jobs whose operation changes a stack (stacks.Of; drawn from
	// Seed): a job whose operation deploys nothing gets none. Only
	// policies run with hints see them.
	HintDelay time.Duration
	HintShare float64

	// The deployment's settings (template.yaml).
	InitialPollDelay time.Duration // submit's INITIAL_POLL_DELAY
	NotFoundGrace    time.Duration // poll's NOT_FOUND_GRACE
	// StillRunningAfter is poll's STILL_RUNNING_AFTER: one STILL_RUNNING
	// warning for a job running longer (0: none).
	StillRunningAfter time.Duration
	Deadline          time.Duration // DEADLINE: a job still running then is TIMED_OUT
	WaitRetryDelay    time.Duration // submit's WAIT_RETRY_DELAY
	WaitDeadline      time.Duration // WAIT_DEADLINE: how long a request may wait for its environment
}

// Standard is the standard workload of issue 8.
func Standard() Workload {
	return Workload{
		Jobs: 10000, Seed: 1, Sigma: 0.5, Envs: 200, Hours: 24, StuckRate: 0.01,
		Operations: Operations,
		HintDelay:  5 * time.Second, HintShare: 0.97,
		InitialPollDelay: 10 * time.Second, NotFoundGrace: 2 * time.Minute, StillRunningAfter: 2 * time.Hour, Deadline: 6 * time.Hour,
		WaitRetryDelay: 2 * time.Minute, WaitDeadline: 6 * time.Hour,
	}
}

// Check reports the settings a simulation cannot run with, naming them
// as the command's flags do.
func (w Workload) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if w.Jobs < 1 {
		bad("jobs is %d; want at least 1", w.Jobs)
	}
	if w.Sigma < 0 || math.IsNaN(w.Sigma) || w.Sigma > 5 {
		bad("sigma is %v; want 0 to 5", w.Sigma)
	}
	if w.Envs < 1 {
		bad("envs is %d; want at least 1", w.Envs)
	}
	if !(w.Hours > 0) || w.Hours > 24*365 {
		bad("hours is %v; want more than 0 and at most a year", w.Hours)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"stuck-rate", w.StuckRate}, {"fail-rate", w.FailRate}, {"hint-share", w.HintShare}} {
		if !(r.v >= 0 && r.v <= 1) {
			bad("%s is %v; want a share from 0 to 1", r.name, r.v)
		}
	}
	if w.StuckRate+w.FailRate > 1 {
		bad("stuck-rate + fail-rate is %v; want at most 1", w.StuckRate+w.FailRate)
	}
	if len(w.Operations) == 0 {
		bad("the workload has no operations")
	}
	if w.HintDelay < 0 {
		bad("hint-delay is %v; want a duration that is not negative", w.HintDelay)
	}
	if w.InitialPollDelay < 0 || w.InitialPollDelay > 900*time.Second || w.WaitRetryDelay < time.Second || w.WaitRetryDelay > 900*time.Second {
		bad("the initial poll delay and wait retry delay must be SQS delays (0 to 900 s; the retry at least 1 s)")
	}
	if w.Deadline <= 0 || w.WaitDeadline <= 0 || w.NotFoundGrace < 0 || w.StillRunningAfter < 0 {
		bad("the deadlines must be positive and the not-found grace not negative")
	}
	return errors.Join(errs...)
}

// request is one job request of the workload.
type request struct {
	index    int
	id       string
	app, env string
	envIndex int
	op       string
	arrival  time.Duration // since the start of the run
	duration time.Duration
	stuck    bool
	fails    bool
	// hinted says the status change of the stack its job changes reaches
	// poll; target is the environment a clone creates.
	hinted bool
	target string
}

// Streams of the workload's randomness: each attribute has its own, so a
// flag that changes one (--stuck-rate) leaves the others as they were.
const (
	streamArrivals = iota + 1
	streamEnvs
	streamOperations
	streamDurations
	streamOutcomes
	streamHints
)

// requests draws the workload's requests, in arrival order. Arrivals are
// a Poisson process over Hours given Jobs arrivals: sorted uniform times.
func (w Workload) requests() []request {
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(w.Seed, stream)) }
	arrivals, envs, ops, durs, outcomes, hints :=
		rng(streamArrivals), rng(streamEnvs), rng(streamOperations), rng(streamDurations), rng(streamOutcomes), rng(streamHints)
	span := time.Duration(w.Hours * float64(time.Hour))
	at := make([]time.Duration, w.Jobs)
	for i := range at {
		at[i] = time.Duration(arrivals.Float64() * float64(span))
	}
	slices.Sort(at)
	reqs := make([]request, w.Jobs)
	for i := range reqs {
		e := envs.IntN(w.Envs)
		mix := w.Operations[ops.IntN(len(w.Operations))]
		outcome := outcomes.Float64()
		reqs[i] = request{
			index: i, id: fmt.Sprintf("req-%06d", i),
			app: fmt.Sprintf("dapp%03d", e/10), env: fmt.Sprintf("env%d", e%10), envIndex: e,
			op: mix.Operation, arrival: at[i],
			duration: time.Duration(float64(mix.Median) * math.Exp(w.Sigma*durs.NormFloat64())).Round(time.Millisecond),
			stuck:    outcome < w.StuckRate,
			fails:    outcome >= w.StuckRate && outcome < w.StuckRate+w.FailRate,
		}
		if stacks.Of(mix.Operation).Stack == stacks.Target {
			reqs[i].target = fmt.Sprintf("tg%06d", i)
		}
		// One draw per request, hinted or not, so a share keeps the others.
		draw := hints.Float64()
		reqs[i].hinted = stacks.Of(mix.Operation).Stack != stacks.None && draw < w.HintShare
	}
	return reqs
}
