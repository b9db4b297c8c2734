package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/ddbmem"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/poll"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/stacks"
	"github.com/jobwatch/jobwatch/internal/state"
)

// epoch is where the virtual clock starts.
var epoch = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// wakeGrace is submit's: how long past its due time a scheduled wake-up is
// still trusted to come before another one is sent.
const wakeGrace = 2 * time.Minute

type eventKind uint8

const (
	evMessage eventKind = iota // a message becomes visible
	evHint                     // a hint reaches poll
	evArrival                  // a job request reaches submit
)

// event is one thing that happens at a virtual time. At one instant,
// events run by prio (queues first, in queueID order, then hints, then
// arrivals), then in the order they were scheduled.
type event struct {
	at   time.Duration // since epoch
	prio uint8
	kind eventKind
	seq  uint64
	req  int32
	msg  *message
}

func (e *event) before(o *event) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	if e.prio != o.prio {
		return e.prio < o.prio
	}
	return e.seq < o.seq
}

// eventHeap is a binary min-heap of events; hand-written to keep events
// out of interfaces (millions go through it).
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(&s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].before(&s[m]) {
			m = l
		}
		if r < n && s[r].before(&s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// jobState is what became of one request in a run.
type jobState struct {
	jobID    string
	created  time.Time // when its job started; zero while it waits
	ended    bool
	status   string
	detected time.Duration
}

// line is submit's waiting line of one environment.
type line struct {
	waiting []int // request indexes, in arrival order
	// last is the request whose job started last on the environment.
	last int
	// wakeID is the scheduled wake-up's message id (0: none), due at wakeAt.
	wakeID uint64
	wakeAt time.Duration
}

// counts are what one run counts besides the queues and the Admin API.
type counts struct {
	submitInvocations, pollInvocations, notifyInvocations, hintInvocations int
	// submitCalls counts submit's job-producing Admin API calls, refused
	// ones included.
	submitCalls int
	// requestEvents and statusEvents count EventBridge custom events: the
	// job requests and the status changes notify publishes.
	requestEvents, statusEvents, putEventsCalls int
	ended                                       map[string]int
	timedOutWaiting                             int
	duplicates, conflicts, mismatches           int
	stillRunning                                int
	released                                    int
	pollItemFailures, hintErrors, hintRequeues  int
	lags                                        []time.Duration
	// lagsByOp holds the lags per operation.
	lagsByOp  map[string][]time.Duration
	lastEvent time.Duration
}

// sim is one run of one policy over the workload.
type sim struct {
	w      Workload
	reqs   []request
	byID   map[string]int
	envOf  map[[2]string]int
	hints  bool
	ctx    context.Context
	now    time.Duration
	clock  *emulator.ManualClock
	jobs   *emulator.Jobs
	api    *adminAPI
	queues *queueService
	poller *poll.Poller
	hinter Hinter
	// tracked records the jobs, as submit and poll do when deployed with
	// the state table; set for the hinted policy, whose hint path needs it.
	tracked *state.Store
	events  eventHeap
	seq     uint64
	state   []jobState
	byJob   map[string]int // job id → request index
	lines   []line
	// creating is the request whose job is being created: the job
	// model's DurationFunc gives it the workload's duration.
	creating *request
	c        counts
	// delivered, when set, sees every batch an event source mapping
	// delivers (for tests).
	delivered func(q queueID, at time.Duration, batch []*message)
}

func newSim(ctx context.Context, w Workload, reqs []request, policy schedule.Policy, hints HintPath) *sim {
	s := &sim{
		w: w, reqs: reqs, ctx: ctx, hints: hints != nil,
		byID: make(map[string]int, len(reqs)), byJob: make(map[string]int, len(reqs)), envOf: map[[2]string]int{},
		clock: emulator.NewManualClock(epoch),
		state: make([]jobState, len(reqs)), lines: make([]line, w.Envs),
		c: counts{ended: map[string]int{}, lagsByOp: map[string][]time.Duration{}},
	}
	for i, r := range reqs {
		s.byID[r.id] = i
		s.envOf[[2]string{r.app, r.env}] = r.envIndex
	}
	s.jobs = emulator.NewJobs(emulator.JobsConfig{
		Clock: s.clock, Rand: rand.New(rand.NewPCG(w.Seed, 0x10b5)),
		Durations: func(string, *rand.Rand) time.Duration { return s.creating.duration },
	})
	// The lookups of a batch run while the simulation waits in Handle, and
	// state changes only after they return.
	s.api = &adminAPI{jobs: s.jobs, clock: s.clock, second: -1, times: map[string]*jobTimes{}, ended: func(jobID string) bool {
		i, ok := s.byJob[jobID]
		return ok && s.state[i].ended
	}, opOf: s.opOf, byOp: map[string]int{}}
	s.queues = newQueueService(s)
	cfg := poll.Config{
		JobsQueueURL: queueURL(jobsQueue), CompletionsQueueURL: queueURL(completionsQueue), WaitingQueueURL: queueURL(waitingQueue),
		NotFoundGrace: w.NotFoundGrace, NotFoundRetry: 5 * time.Second, StillRunningAfter: w.StillRunningAfter, Policy: policy,
		Now: s.clock.Now, Logger: slog.New(slog.DiscardHandler),
	}
	if s.hints {
		// The state store over a table in memory, as submit and poll use it
		// when deployed with the state table.
		s.tracked = state.New(ddbmem.New("pk"), "state", state.Options{Now: s.clock.Now})
		cfg.Tracked = s.tracked
	}
	s.poller = poll.New(cfg, s.api, s.queues)
	if hints != nil {
		s.hinter = hints(Deployment{Poller: s.poller})
	}
	for i, r := range reqs {
		s.schedule(r.arrival, event{kind: evArrival, prio: uint8(numQueues) + 1, req: int32(i)})
	}
	return s
}

// opOf names the operation of an Admin API call: the job's for a lookup
// by id, that of the job last started on the environment ("app/env") for
// a listing. The lookups run while the simulation waits, so reading its
// state is safe.
func (s *sim) opOf(env, jobID string) string {
	if i, ok := s.byJob[jobID]; ok {
		return s.reqs[i].op
	}
	app, name, _ := strings.Cut(env, "/")
	if e, ok := s.envOf[[2]string{app, name}]; ok {
		return s.reqs[s.lines[e].last].op
	}
	return ""
}

func (s *sim) schedule(at time.Duration, e event) {
	s.seq++
	e.at, e.seq = at, s.seq
	s.events.push(e)
}

// run processes events until none is left: every request has ended.
func (s *sim) run() error {
	batch := make([]*message, 0, esmBatchSize)
	for len(s.events) > 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		e := s.events.pop()
		s.now = e.at
		s.clock.Set(epoch.Add(e.at))
		switch e.kind {
		case evArrival:
			s.arrive(e.req)
		case evHint:
			s.hint(e.req)
		case evMessage:
			// The event source mapping hands over what is visible now, in
			// batches of up to esmBatchSize.
			batch = append(batch[:0], e.msg)
			for len(batch) < esmBatchSize && len(s.events) > 0 {
				next := &s.events[0]
				if next.at != e.at || next.kind != evMessage || next.msg.queue != e.msg.queue {
					break
				}
				batch = append(batch, s.events.pop().msg)
			}
			s.deliver(e.msg.queue, batch)
		}
		s.c.lastEvent = e.at
	}
	return nil
}

// deliver hands a batch to the queue's function: one invocation, one
// ReceiveMessage, and a DeleteMessageBatch for what succeeded.
func (s *sim) deliver(q queueID, batch []*message) {
	if s.delivered != nil {
		s.delivered(q, s.now, batch)
	}
	s.queues.received(q, batch)
	var failed map[string]bool
	switch q {
	case jobsQueue:
		s.c.pollInvocations++
		msgs := make([]queue.Message, len(batch))
		for i, m := range batch {
			msgs[i] = queue.Message{ID: strconv.FormatUint(m.id, 10), Body: m.body}
		}
		if res := s.poller.Handle(s.ctx, msgs); len(res.Failed) > 0 {
			failed = map[string]bool{}
			for _, id := range res.Failed {
				failed[id] = true
			}
		}
	case completionsQueue:
		s.notify(batch)
	case waitingQueue:
		s.c.submitInvocations++
		for _, m := range batch {
			w, err := contract.DecodeWakeup([]byte(m.body))
			if err != nil {
				panic(fmt.Sprintf("bench: a wake-up the simulation sent does not decode: %v", err))
			}
			s.look(s.envOf[[2]string{w.AppID, w.BackendEnvironmentName}], m.id)
		}
	}
	for _, m := range batch {
		if failed != nil && failed[strconv.FormatUint(m.id, 10)] {
			s.c.pollItemFailures++
			s.queues.redeliver(m)
		}
	}
	s.queues.deleted(q, len(batch)-len(failed))
}

// arrive is submit handling a job request from EventBridge: it starts the
// job, or puts the request in its environment's line when others wait
// there or the service refuses it because a job is pending.
func (s *sim) arrive(i int32) {
	s.c.submitInvocations++
	s.c.requestEvents++
	r := &s.reqs[i]
	l := &s.lines[r.envIndex]
	if len(l.waiting) == 0 && s.start(r) {
		return
	}
	l.waiting = append(l.waiting, int(i))
	s.scheduleLook(r.envIndex, 0)
}

// start calls the request's operation; false when a job is pending on its
// environment. A started job gets its tracking message, delayed by the
// initial poll delay.
func (s *sim) start(r *request) bool {
	s.c.submitCalls++
	switch {
	case r.stuck:
		s.jobs.SetRates(0, 1)
	case r.fails:
		s.jobs.SetRates(1, 0)
	default:
		s.jobs.SetRates(0, 0)
	}
	s.creating = r
	job, err := s.jobs.Create(r.app, r.env, r.op)
	var pending *emulator.PendingJobError
	if errors.As(err, &pending) {
		return false
	}
	if err != nil {
		panic(fmt.Sprintf("bench: create a job: %v", err))
	}
	st := &s.state[r.index]
	st.jobID, st.created = job.JobId, job.CreateTime
	s.byJob[job.JobId] = r.index
	s.lines[r.envIndex].last = r.index
	now := s.clock.Now()
	msg := contract.TrackingMessage{
		Version: contract.TrackingVersion, AppID: r.app, BackendEnvironmentName: r.env, JobID: job.JobId,
		Operation: r.op, RequestID: r.id, TargetEnvironmentName: r.target, SubmittedAt: now, Deadline: now.Add(s.w.Deadline),
		LastStatus: job.Status,
	}
	body, _ := json.Marshal(msg) // plain struct: cannot fail
	s.queues.send(jobsQueue, string(body), s.w.InitialPollDelay)
	if s.tracked != nil {
		if _, err := s.tracked.TrackJob(s.ctx, msg, "submit"); err != nil {
			panic(fmt.Sprintf("bench: record a tracked job: %v", err))
		}
	}
	// A job that outlives the deadline is cancelled after its TIMED_OUT:
	// its stack's end is not the one drawn.
	if s.hints && r.hinted && !r.stuck && r.duration < s.w.Deadline {
		end := job.CreateTime.Add(r.duration).Sub(epoch)
		s.schedule(end+s.w.HintDelay, event{kind: evHint, prio: uint8(numQueues), req: int32(r.index)})
	}
	return true
}

// look is submit handling a wake-up (self is its message id): it starts
// the jobs at the head of the line while the environment is free, gives
// up those past their wait deadline, and schedules another look while the
// environment is busy.
func (s *sim) look(env int, self uint64) {
	l := &s.lines[env]
	if l.wakeID == self {
		l.wakeID = 0
	}
	for len(l.waiting) > 0 {
		r := &s.reqs[l.waiting[0]]
		if s.now > r.arrival+s.w.WaitDeadline {
			s.giveUp(r)
		} else if !s.start(r) {
			s.scheduleLook(env, self)
			return
		}
		l.waiting = l.waiting[1:]
	}
}

// scheduleLook sends a wake-up due after the wait retry delay, unless one
// is scheduled already and not overdue.
func (s *sim) scheduleLook(env int, self uint64) {
	l := &s.lines[env]
	if l.wakeID != 0 && l.wakeID != self && s.now < l.wakeAt+wakeGrace {
		return
	}
	r := &s.reqs[l.waiting[0]]
	body, _ := json.Marshal(contract.NewWakeup(r.app, r.env))
	m := s.queues.send(waitingQueue, string(body), s.w.WaitRetryDelay)
	l.wakeID, l.wakeAt = m.id, s.now+s.w.WaitRetryDelay
}

// giveUp ends a request that waited past its deadline without a job: a
// TIMED_OUT status change from submit.
func (s *sim) giveUp(r *request) {
	now := s.clock.Now()
	arrived := epoch.Add(r.arrival)
	body, _ := json.Marshal(contract.NewStatusChange(contract.Ending{AppID: r.app, BackendEnvironmentName: r.env, Operation: r.op,
		RequestID: r.id, Status: contract.StatusTimedOut, PreviousStatus: "WAITING", Error: "waited past the wait deadline",
		SubmittedAt: arrived}, now))
	s.c.timedOutWaiting++
	s.queues.send(completionsQueue, string(body), 0)
}

// emitted records a status change as it is sent to the completions queue:
// the first end of a request ends it; later ones (the same eventKey, or
// another status) are duplicates that consumers drop. STILL_RUNNING
// warnings are counted apart.
func (s *sim) emitted(body string) {
	c, err := contract.DecodeStatusChange([]byte(body))
	if err != nil {
		panic(fmt.Sprintf("bench: poll sent a status change that does not decode: %v", err))
	}
	i, ok := s.byID[c.RequestID]
	if !ok {
		panic(fmt.Sprintf("bench: status change for unknown request %q", c.RequestID))
	}
	if c.Status == contract.StatusStillRunning { // a warning, not an end
		s.c.stillRunning++
		return
	}
	st, r := &s.state[i], &s.reqs[i]
	if st.ended {
		s.c.duplicates++
		if c.Status != st.status {
			s.c.conflicts++
		}
		return
	}
	st.ended, st.status, st.detected = true, c.Status, s.now
	s.c.ended[c.Status]++
	want := contract.StatusCompleted
	switch {
	case c.JobID == "": // waited past the wait deadline
		want = contract.StatusTimedOut
	case r.stuck, r.duration > s.w.Deadline+time.Second:
		want = contract.StatusTimedOut
	case r.duration > s.w.Deadline-time.Second: // ends about when poll gives up: either
		want = c.Status
	case r.fails:
		want = contract.StatusFailed
	}
	if c.Status != want {
		s.c.mismatches++
	}
	if c.Status == contract.StatusCompleted || c.Status == contract.StatusFailed {
		lag := s.now - st.created.Add(r.duration).Sub(epoch)
		s.c.lags = append(s.c.lags, lag)
		s.c.lagsByOp[r.op] = append(s.c.lagsByOp[r.op], lag)
	}
}

// notify publishes a batch of status changes: one PutEvents call. A job
// declared TIMED_OUT is then cancelled (UpdateBackendJob to FAILED), as an
// operator's rule on that event would, so that a stuck job does not hold
// its environment for the rest of the run.
func (s *sim) notify(batch []*message) {
	s.c.notifyInvocations++
	s.c.putEventsCalls++
	s.c.statusEvents += len(batch)
	for _, m := range batch {
		c, err := contract.DecodeStatusChange([]byte(m.body))
		if err != nil || c.Status != contract.StatusTimedOut || c.JobID == "" {
			continue
		}
		if _, err := s.jobs.Update(c.AppID, c.BackendEnvironmentName, c.JobID, emulator.JobUpdate{Status: amplify.JobStatusFailed}); err == nil {
			s.c.released++
		}
	}
}

// hint delivers to poll's hint path the status change of the stack request
// i's job changed (stacks.Of: its own environment's, or the one a clone
// creates), in the status it ends in: one poll invocation.
func (s *sim) hint(i int32) {
	s.c.hintInvocations++
	r := &s.reqs[i]
	st := &s.state[i]
	before := s.queues.counts[jobsQueue].Sent
	effect := stacks.Of(r.op)
	env, status := r.env, effect.Statuses[0]
	if effect.Stack == stacks.Target {
		env = r.target
	}
	if r.fails {
		status = effect.Statuses[1]
	}
	err := s.hinter.Hint(s.ctx, Hint{AppID: r.app, BackendEnvironmentName: env, StackStatus: status, Time: st.created.Add(r.duration)})
	if err != nil {
		s.c.hintErrors++
	}
	s.c.hintRequeues += s.queues.counts[jobsQueue].Sent - before
}
