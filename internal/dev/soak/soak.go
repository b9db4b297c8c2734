package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
)

// Options configure a soak run. Zero values take the defaults noted.
type Options struct {
	// Jobs is how many job requests are submitted (default 1000).
	Jobs int
	// Environments spreads the requests over this many backend
	// environments (default Jobs/10), so that requests line up behind the
	// running job of their environment.
	Environments int
	// Template is the SAM template; its directory is the Go module built
	// (default template.yaml).
	Template string
	// WorkDir holds builds and logs; default a temporary directory,
	// removed at the end.
	WorkDir string
	// MotoEndpoint is a moto server to use; default one is started (and
	// stopped) for the run.
	MotoEndpoint string
	// StackName names the stack's resources (default jobwatch-soak); on a
	// shared moto server it must be unique.
	StackName string
	// Seed seeds the emulator (which jobs fail or stick), the operations
	// drawn and the duplicates injected.
	Seed uint64
	// Timeout bounds the run once the functions are up (default 15m);
	// building them does not count.
	Timeout time.Duration
	// Rate is how many requests a second are put on the bus (default 20).
	Rate float64
	// Faults are the emulator's faults; default DefaultFaults.
	Faults *emulator.Faults
	// OutageAfter and OutageFor put the Admin API out of reach during the
	// run: OutageAfter after the first request, for OutageFor, every call
	// is answered 503 or its connection dropped (default 20s and 60s, a
	// dozen local visibility timeouts; OutageFor < 0: none).
	OutageAfter, OutageFor time.Duration
	// JobDeadline is the template's JobDeadline (default 45s): a stuck
	// job ends TIMED_OUT that long after its submission.
	JobDeadline time.Duration
	// WaitDeadline is the template's WaitDeadline (default 3m): how long
	// a request may wait for its environment. It must outlast a line's
	// normal wait, or requests time out that would have run.
	WaitDeadline time.Duration
	// StillRunningAfter is the template's StillRunningAfter (default 20s,
	// under JobDeadline, so that stuck jobs warn once before they time
	// out).
	StillRunningAfter time.Duration
	// VisibilityTimeout is the queues' visibility timeout (default 5s):
	// how soon the messages of a failed batch come back. The completions
	// queue gets at least NotifyVisibilityTimeout.
	VisibilityTimeout time.Duration
	// NotifyVisibilityTimeout is the completions queue's visibility
	// timeout (default 30s, the function's timeout): notify posts to Slack
	// at most once a second, so a batch of ten can take ten seconds, and a
	// message must not come back while its batch is still being posted.
	NotifyVisibilityTimeout time.Duration
	// Kills is how many times poll's runtime is killed in the middle of a
	// batch (default 2; negative: none).
	Kills int
	// DuplicateRate is the share of requests put on the bus twice and of
	// poll and notify batches some of whose messages are copied (default
	// 0.05; negative: none).
	DuplicateRate float64
	// PollPolicy is the template's PollPolicy (default jobwatch).
	PollPolicy string
	// SlackStatuses is the template's SlackStatuses (default
	// FAILED,TIMED_OUT,LOST): Slack takes one message per second per
	// webhook, which a thousand COMPLETED posts would make the run's pace.
	SlackStatuses string
	// ScheduleEvery is the period of the functions' Schedule events
	// (default 30s; deployed, the discovery sweep runs every 5 minutes),
	// so that the sweep lists the environments while jobwatch's own jobs
	// start and end, and must tell them from jobs started elsewhere.
	ScheduleEvery time.Duration
	// Linger is how long the run keeps watching once every job ended and
	// the queues are empty, for late duplicates (default 5s).
	Linger time.Duration
}

// DefaultFaults are the emulator's faults of the soak: a fifth of the
// Admin API calls throttled, one in twenty timing out, one job-starting
// answer in ten lost after the job started, new jobs unknown to
// GetBackendJob for 3 s, 5 % of the jobs failing and 1 % stuck.
func DefaultFaults() emulator.Faults {
	return emulator.Faults{ThrottleRate: 0.2, ErrorRate: 0.05, LostAnswerRate: 0.1, NotFoundWindow: 3 * time.Second,
		FailRate: 0.05, StuckRate: 0.01}
}

func (o Options) withDefaults() Options {
	if o.Jobs <= 0 {
		o.Jobs = 1000
	}
	if o.Environments <= 0 {
		o.Environments = max(o.Jobs/10, 1)
	}
	o.Environments = min(o.Environments, o.Jobs)
	if o.Template == "" {
		o.Template = "template.yaml"
	}
	if o.StackName == "" {
		o.StackName = "jobwatch-soak"
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Minute
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Faults == nil {
		f := DefaultFaults()
		o.Faults = &f
	}
	defaults := []struct {
		d   *time.Duration
		def time.Duration
	}{
		{&o.JobDeadline, 45 * time.Second}, {&o.WaitDeadline, 3 * time.Minute}, {&o.StillRunningAfter, 20 * time.Second},
		{&o.VisibilityTimeout, 5 * time.Second}, {&o.NotifyVisibilityTimeout, 30 * time.Second}, {&o.Linger, 5 * time.Second},
		{&o.ScheduleEvery, 30 * time.Second}, {&o.OutageAfter, 20 * time.Second},
	}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.def
		}
	}
	o.NotifyVisibilityTimeout = max(o.NotifyVisibilityTimeout, o.VisibilityTimeout)
	switch {
	case o.OutageFor == 0:
		o.OutageFor = time.Minute
	case o.OutageFor < 0:
		o.OutageFor = 0
	}
	switch {
	case o.Kills == 0:
		o.Kills = 2
	case o.Kills < 0:
		o.Kills = 0
	}
	switch {
	case o.DuplicateRate == 0:
		o.DuplicateRate = 0.05
	case o.DuplicateRate < 0:
		o.DuplicateRate = 0
	}
	if o.PollPolicy == "" {
		o.PollPolicy = "jobwatch"
	}
	if o.SlackStatuses == "" {
		o.SlackStatuses = "FAILED,TIMED_OUT,LOST"
	}
	return o
}

// snsStatuses are the statuses published to the topic: all of them.
const snsStatuses = "COMPLETED,FAILED,TIMED_OUT,LOST,STILL_RUNNING"

// APIStats counts the Admin API calls the emulator answered.
type APIStats struct {
	Calls, Throttled, GatewayTimeouts, NotFound int
	// LostAnswers are job-starting calls whose job started but whose
	// answer was a 504; Outage the calls answered 503 or dropped in the
	// outage.
	LostAnswers, Outage int
}

func apiStats(s emulator.Stats) APIStats {
	a := APIStats{LostAnswers: len(s.LostAnswers), Outage: s.Count(emulator.OutcomeOutage) + s.Count(emulator.OutcomeDropped)}
	for _, op := range s.Operations {
		a.Calls += op.Calls
		for outcome, n := range op.Outcomes {
			switch {
			case strings.HasPrefix(outcome, "429 "):
				a.Throttled += n
			case strings.HasPrefix(outcome, "504 "):
				a.GatewayTimeouts += n
			case strings.HasPrefix(outcome, "404 "):
				a.NotFound += n
			}
		}
	}
	return a
}

// Result is what a run observed.
type Result struct {
	// Jobs is how many distinct requests were submitted; Terminal how many
	// got a terminal status change (COMPLETED, FAILED, TIMED_OUT, LOST) on
	// the bus; Lost how many did not.
	Jobs, Terminal, Lost int
	// Duplicates counts the deliveries beyond the first of one event key:
	// events on the bus, Slack posts, SNS messages.
	Duplicates int
	// DuplicatesBySink splits Duplicates by bus, slack and sns.
	DuplicatesBySink map[string]int
	// Outcomes counts the requests by terminal status.
	Outcomes map[string]int
	// Jobless counts the requests that ended without a job: TIMED_OUT
	// waiting for an environment (one a stuck job holds).
	Jobless int
	// StillRunning counts the STILL_RUNNING warnings on the bus.
	StillRunning int
	// Events, SlackPosts and SNSMessages count every delivery seen.
	Events, SlackPosts, SNSMessages int
	// Conflicts lists requests with more than one terminal status change.
	Conflicts []string
	// Missing counts, per sink, status changes on the bus that did not
	// reach Slack or SNS although routed there.
	Missing map[string]int
	// DeadLetters counts the messages left in each dead-letter queue and
	// the submit-failures queue, by logical id (every one of them listed);
	// DeadLettered is their sum.
	DeadLetters  map[string]int
	DeadLettered int
	// StartedTwice counts the jobs the Admin API started beyond one per
	// request that got a job: a job-starting call repeated after its
	// answer was lost.
	StartedTwice int
	// Injected counts the duplicates injected; Kills the poll runtimes
	// killed in the middle of a batch (KillMisses: kills that came after
	// the batch was done, and were tried again on another).
	Injected   Injected
	Kills      []Kill
	KillMisses int
	// API counts the Admin API calls and the faults answered.
	API     APIStats
	Elapsed time.Duration
	// Problems lists every invariant that failed, in words.
	Problems []string
}

// Line is the run's last line:
// soak: jobs=N terminal=N lost=N duplicates=N started_twice=N dlq=N.
func (r Result) Line() string {
	return fmt.Sprintf("soak: jobs=%d terminal=%d lost=%d duplicates=%d started_twice=%d dlq=%d",
		r.Jobs, r.Terminal, r.Lost, r.Duplicates, r.StartedTwice, r.DeadLettered)
}

// Err is nil when the run kept every invariant, else an error naming the
// ones it broke.
func (r Result) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return errors.New("soak failed: " + strings.Join(r.Problems, "; "))
}

// Run stands the application up, submits the requests with the faults on,
// waits until every request has a terminal status change (or the timeout)
// and the queues are empty, and checks the invariants. It writes progress
// and a summary to out, the last line being Result.Line. The error is
// Result.Err, or what kept the run from starting.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	o = o.withDefaults()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	work := o.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "jobwatch-soak-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return Result{}, err
	}
	reqs := workload(o.Jobs, o.Environments, o.Seed)
	f := *o.Faults
	say("soak: %d job requests over %d environments, %.0f a second, through the event bus of %s", o.Jobs, o.Environments, o.Rate, o.Template)
	say("soak: Admin API faults: %.0f%% throttled, %.0f%% 504, NotFound for %s after creation, %.0f%% of jobs failing, %.0f%% stuck (JobDeadline %s)",
		100*f.ThrottleRate, 100*f.ErrorRate, f.NotFoundWindow, 100*f.FailRate, 100*f.StuckRate, o.JobDeadline)
	if o.OutageFor > 0 {
		say("soak: Admin API outage %s into the run, for %s (503, a fifth of the connections dropped); %.0f%% of job-starting answers lost after the job started",
			o.OutageAfter, o.OutageFor, 100*f.LostAnswerRate)
	}
	say("soak: injected: %.0f%% of requests sent twice, copies of messages in %.0f%% of poll and notify batches, poll's runtime killed mid-batch %d times; schedules (the discovery sweep) every %s",
		100*o.DuplicateRate, 100*o.DuplicateRate, o.Kills, o.ScheduleEvery)

	a, err := standUp(ctx, o, work, say)
	if a != nil {
		defer a.close()
	}
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	a.in.start = start
	if o.OutageFor > 0 {
		f := a.emu.Faults()
		f.OutageAfter, f.OutageFor, f.OutageDropRate = o.OutageAfter, o.OutageFor, 0.2
		if err := a.emu.SetFaults(f); err != nil {
			return Result{}, fmt.Errorf("schedule the outage: %w", err)
		}
	}
	sub := &submitter{eb: eventbridge.NewFromConfig(a.cfg), bus: a.st.Stack.Buses["EventBus"].Name, rate: o.Rate, in: a.in}
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		sub.run(ctx, reqs)
	}()

	a.follow(ctx, o, reqs, sub, submitted, start, say)
	a.run.Close()
	r := Result{Elapsed: time.Since(start)}
	a.report(&r, o, reqs, say)
	say("%s", r.Line())
	return r, r.Err()
}

// submitter puts the job requests on the bus.
type submitter struct {
	eb   *eventbridge.Client
	bus  string
	rate float64
	in   *injector

	mu   sync.Mutex
	sent int
	err  error
}

func (s *submitter) progress() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.err
}

// run puts the requests on the bus, ten per PutEvents call, at the rate
// asked. A share of them is put again with the same requestId: at once
// (with the next call) or a while later; run returns once those are sent
// too.
func (s *submitter) run(ctx context.Context, reqs []request) {
	var later sync.WaitGroup
	defer later.Wait()
	var again []request
	tick := time.NewTicker(time.Duration(float64(10*time.Second) / s.rate))
	defer tick.Stop()
	for i := 0; i < len(reqs); i += 10 {
		batch := make([]request, 0, len(again)+10)
		batch = append(append(batch, again...), reqs[i:min(i+10, len(reqs))]...)
		again = nil
		if err := s.put(ctx, batch); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		s.sent = min(i+10, len(reqs))
		s.mu.Unlock()
		for _, r := range reqs[i:min(i+10, len(reqs))] {
			switch u := s.in.uniform(); {
			case u < s.in.rate/2:
				again = append(again, r)
				s.in.count(func(i *Injected) { i.Requests++ })
			case u < s.in.rate:
				s.in.count(func(i *Injected) { i.Requests++ })
				wait := time.Duration(5+s.in.intN(40)) * time.Second
				later.Add(1)
				go func() {
					defer later.Done()
					t := time.NewTimer(wait)
					defer t.Stop()
					select {
					case <-t.C:
						_ = s.put(ctx, []request{r})
					case <-ctx.Done():
					}
				}()
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
	if len(again) > 0 {
		_ = s.put(ctx, again)
	}
}

// put sends requests as events, ten per PutEvents call (its limit).
func (s *submitter) put(ctx context.Context, reqs []request) error {
	for i := 0; i < len(reqs); i += 10 {
		if err := s.putEvents(ctx, reqs[i:min(i+10, len(reqs))]); err != nil {
			return err
		}
	}
	return nil
}

// putEvents sends up to ten requests as events, resending the entries
// PutEvents failed.
func (s *submitter) putEvents(ctx context.Context, reqs []request) error {
	entries := make([]ebtypes.PutEventsRequestEntry, len(reqs))
	for i, r := range reqs {
		entries[i] = ebtypes.PutEventsRequestEntry{EventBusName: aws.String(s.bus), Source: aws.String("jobwatch.soak"),
			DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(r.detail())}
	}
	for attempt := 0; len(entries) > 0; attempt++ {
		if attempt == 5 {
			return fmt.Errorf("put job requests: %d entries still failing", len(entries))
		}
		out, err := s.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put job requests: %w", err)
		}
		var failed []ebtypes.PutEventsRequestEntry
		for i, e := range out.Entries {
			if e.ErrorCode != nil && i < len(entries) {
				failed = append(failed, entries[i])
			}
		}
		entries = failed
	}
	return nil
}

// follow watches the run until every request has a terminal status change
// and the queues are empty, or ctx ends; it prints progress every 10 s and
// arms the kills as the run goes.
func (a *app) follow(ctx context.Context, o Options, reqs []request, sub *submitter, submitted <-chan struct{}, start time.Time, say func(string, ...any)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	armed, idle := 0, 0
	lastReport, lastIdleCheck := time.Now(), time.Now()
	progress := func() {
		sent, _ := sub.progress()
		api := apiStats(a.emu.Stats())
		inj, kills, _ := a.in.snapshot()
		say("soak: %3.0fs submitted=%d/%d terminal=%d events=%d slack=%d sns=%d api=%d (429: %d, 504: %d, 404: %d) kills=%d duplicates-injected=%d",
			time.Since(start).Seconds(), sent, len(reqs), a.ledger.terminalCount(reqs), a.ledger.deliveries(sinkBus),
			a.ledger.deliveries(sinkSlack), a.ledger.deliveries(sinkSNS), api.Calls, api.Throttled, api.GatewayTimeouts, api.NotFound,
			len(kills), inj.Total())
	}
	done := false
	for !done {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				say("soak: timed out after %s", o.Timeout)
			} else {
				say("soak: interrupted")
			}
			done = true
			continue
		case <-tick.C:
		}
		terminal := a.ledger.terminalCount(reqs)
		// Kill k once k/(Kills+1) of the first half of the requests
		// ended: while many jobs are tracked, so that poll still takes
		// batches of several (late in a run most requests end by timing
		// out in line, which poll has no part in).
		for armed < o.Kills && terminal >= (armed+1)*len(reqs)/(2*(o.Kills+1)) {
			a.in.armKill()
			armed++
		}
		if time.Since(lastReport) >= 10*time.Second {
			progress()
			lastReport = time.Now()
		}
		select {
		case <-submitted:
		default:
			continue
		}
		if _, err := sub.progress(); err != nil {
			say("soak: submitting stopped: %v", err)
			done = true
			continue
		}
		if terminal == len(reqs) {
			done = true
			continue
		}
		// Requests still open while nothing is in flight (three looks, 5 s
		// apart) will never end: stop waiting for them.
		if time.Since(lastIdleCheck) >= 5*time.Second {
			lastIdleCheck = time.Now()
			if n, err := a.st.InFlight(ctx); err == nil && n == 0 {
				idle++
			} else {
				idle = 0
			}
			if idle == 3 {
				say("soak: nothing is in flight any more, and %d requests have not ended", len(reqs)-terminal)
				done = true
			}
		}
	}
	if time.Since(lastReport) > time.Second {
		progress()
	}
	// Late duplicates: copies and forked tracking chains still in the
	// queues end on their own; wait for them, then a little longer.
	if ctx.Err() == nil {
		if err := a.st.Quiesce(ctx, 3*time.Minute); err != nil {
			say("soak: the queues did not empty: %v", err)
		}
		lambdasim.Sleep(ctx, o.Linger)
	}
}

// report fills in the result from the ledger, the emulator, the injector
// and the dead-letter queues, and prints the summary.
func (a *app) report(r *Result, o Options, reqs []request, say func(string, ...any)) {
	sns := toSet(snsStatuses)
	slack := toSet(o.SlackStatuses)
	au := a.ledger.audit(reqs, func(sink, status string) bool {
		if sink == sinkSNS {
			return sns[status]
		}
		return slack[status]
	})
	r.Jobs, r.Terminal, r.Lost = len(reqs), au.terminal, au.lost
	r.Duplicates, r.DuplicatesBySink = au.totalDuplicates(), au.duplicates
	r.Outcomes, r.Jobless, r.StillRunning, r.Conflicts, r.Missing = au.outcomes, au.jobless, au.stillRunning, au.conflicts, au.missing
	r.Events, r.SlackPosts, r.SNSMessages = a.ledger.deliveries(sinkBus), a.ledger.deliveries(sinkSlack), a.ledger.deliveries(sinkSNS)
	r.Injected, r.Kills, r.KillMisses = a.in.snapshot()
	r.API = apiStats(a.emu.Stats())
	dlq, samples, err := a.st.DeadLetters(context.Background())
	r.DeadLetters = dlq
	for _, n := range dlq {
		r.DeadLettered += n
	}
	r.StartedTwice = a.ledger.startedTwice(a.emu.Stats().Jobs.Created)
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("reading the dead-letter queues: %v", err))
	}
	a.printReport(r, o, say)
	a.findProblems(r, o, au, samples, say)
	for _, p := range r.Problems {
		say("soak: FAIL: %s", p)
	}
}

// printReport prints what the run did and what became of it.
func (a *app) printReport(r *Result, o Options, say func(string, ...any)) {
	say("")
	say("soak: done in %s: %d requests, %d ended (%s; %d of them timed out waiting, without a job), %d STILL_RUNNING warnings",
		r.Elapsed.Round(time.Second), r.Jobs, r.Terminal, countsText(r.Outcomes), r.Jobless, r.StillRunning)
	say("soak: Admin API: %d calls, %d throttled (429), %d timed out (504; %d of them answers lost after the job started), %d NotFound (404), %d in the outage (503 or dropped); jobs in the emulator: %s; started twice: %d",
		r.API.Calls, r.API.Throttled, r.API.GatewayTimeouts, r.API.LostAnswers, r.API.NotFound, r.API.Outage, jobStatsText(a.emu.Stats().Jobs), r.StartedTwice)
	i := r.Injected
	say("soak: duplicates injected: %d (%d requests sent twice, %d tracking-message copies, %d completion-message copies, %d completion messages delivered twice)",
		i.Total(), i.Requests, i.TrackingCopies, i.CompletionCopies, i.Redelivered)
	for n, k := range r.Kills {
		say("soak: kill %d at %s: poll's runtime killed mid-batch, %d tracking messages in the batch (%s)",
			n+1, k.At.Round(100*time.Millisecond), len(k.Requests), a.killedOutcome(k))
	}
	if r.KillMisses > 0 {
		say("soak: kills that missed (the batch was done first; another batch was tried): %d", r.KillMisses)
	}
	say("soak: delivered: %d events on the bus, %d Slack posts (%s), %d SNS messages; duplicates: bus %d, slack %d, sns %d",
		r.Events, r.SlackPosts, o.SlackStatuses, r.SNSMessages, r.DuplicatesBySink[sinkBus], r.DuplicatesBySink[sinkSlack], r.DuplicatesBySink[sinkSNS])
	say("soak: dead-letter queues: %s", dlqText(r.DeadLetters))
	if u, ok := a.motoUsage(); ok {
		say("soak: moto: %s", u)
	}
}

// findProblems adds to r.Problems every way the run fell short: a job
// started twice, a request without its end, a duplicate delivery, a
// parked message, a kill that did not happen.
func (a *app) findProblems(r *Result, o Options, au audit, samples map[string]string, say func(string, ...any)) {
	if r.StartedTwice > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("the Admin API started %d more jobs than requests got one: a job started twice for a request", r.StartedTwice))
	}
	if r.Lost > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d requests without a terminal status change (e.g. %s)", r.Lost, strings.Join(au.lostRequests, ", ")))
		a.trace(first(au.lostRequests, 3), say)
	}
	if r.Duplicates > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d duplicate deliveries (e.g. %s)", r.Duplicates, strings.Join(au.duplicateKeys, "; ")))
	}
	if len(r.Conflicts) > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d requests with more than one terminal status change: %s", len(r.Conflicts), strings.Join(first(r.Conflicts, 5), "; ")))
	}
	for _, sink := range []string{sinkSlack, sinkSNS} {
		if n := r.Missing[sink]; n > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%d status changes on the bus never reached %s", n, sink))
		}
	}
	for sink, n := range au.unreadable {
		r.Problems = append(r.Problems, fmt.Sprintf("%d deliveries to %s without a readable event key", n, sink))
	}
	if len(au.strangers) > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d terminal status changes name no request the soak submitted (a job tracked without its requestId?): %s",
			len(au.strangers), strings.Join(first(au.strangers, 5), ", ")))
	}
	for _, id := range slices.Sorted(maps.Keys(r.DeadLetters)) {
		if n := r.DeadLetters[id]; n > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s holds %d messages (first: %s)", id, n, samples[id]))
		}
	}
	if len(r.Kills) < o.Kills {
		r.Problems = append(r.Problems, fmt.Sprintf("poll's runtime was killed mid-batch %d times, not %d", len(r.Kills), o.Kills))
	}
	if r.Terminal < r.Jobs && r.Lost == 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("only %d of %d requests ended", r.Terminal, r.Jobs))
	}
}

// killedOutcome says how the requests of a killed batch ended.
func (a *app) killedOutcome(k Kill) string {
	a.ledger.mu.Lock()
	defer a.ledger.mu.Unlock()
	once, other := 0, 0
	for _, id := range k.Requests {
		if keys := a.ledger.terminal[id]; len(keys) == 1 && a.ledger.seen[sinkBus][keys[0]] == 1 {
			once++
		} else {
			other++
		}
	}
	if other == 0 {
		return "each of them ended exactly once"
	}
	return fmt.Sprintf("%d ended exactly once, %d did not", once, other)
}

func toSet(csv string) map[string]bool {
	set := map[string]bool{}
	for _, s := range strings.Split(csv, ",") {
		set[strings.TrimSpace(s)] = true
	}
	return set
}

func countsText(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func jobStatsText(s emulator.JobStats) string {
	return fmt.Sprintf("%d created, %s", s.Created, countsText(s.ByStatus))
}

func dlqText(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// trace prints what the functions logged about some requests: where a
// request that never ended was last seen.
func (a *app) trace(ids []string, say func(string, ...any)) {
	b, err := os.ReadFile(a.logFile.Name())
	if err != nil {
		return
	}
	for _, id := range ids {
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"`+id+`"`) {
				lines = append(lines, l)
			}
		}
		say("soak: what the functions logged about %s (%d lines, the last 15):", id, len(lines))
		for _, l := range lines[max(0, len(lines)-15):] {
			say("soak:   %s", l)
		}
	}
}
