// Package poll follows tracked jobs: for each tracking message it looks the
// job up, announces an ended job on the completions queue and re-queues a
// running one for the time its scheduling policy picks. The core has no
// Lambda types; lambda.go adapts it to an SQS event source.
//
// Every message of a batch ends exactly one way (see outcome): its job's
// next message sent, its status change sent, a copy sent in its stead
// (after a transient failure, delayed; or not attempted, the invocation's
// time running out), dropped (a duplicate, a stale fork of its job's
// chain, a job already seen to end), parked in the dead-letter queue
// (poison), or, only when what it needed could not be sent, left on the
// queue for redelivery. An Admin API outage thus costs time and no
// message: the queue's receive count is left for poison.
package poll

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/stacks"
	"github.com/jobwatch/jobwatch/internal/state"
)

// JobAPI is the part of the Admin API poll uses.
type JobAPI interface {
	GetBackendJob(context.Context, *amplify.GetBackendJobInput, ...func(*amplify.Options)) (*amplify.GetBackendJobOutput, error)
	ListBackendJobs(context.Context, *amplify.ListBackendJobsInput, ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error)
}

// TrackedJobs is the part of the state table poll uses: the jobs jobwatch
// tracks and their tracking chains. *state.Store implements it.
type TrackedJobs interface {
	Chains(ctx context.Context, keys []state.JobKey) (map[state.JobKey]state.Chain, error)
	AdvanceChain(ctx context.Context, k state.JobKey, from, to state.Step, seen *state.Lookup) error
	FinishJob(ctx context.Context, m contract.TrackingMessage, c contract.StatusChange) error
	TrackedMessages(ctx context.Context, appID, env string) ([]contract.TrackingMessage, error)
}

// Config configures a Poller.
type Config struct {
	JobsQueueURL        string
	CompletionsQueueURL string
	// WaitingQueueURL receives a wake-up for an environment whose job
	// ended, so requests waiting for it move at once.
	WaitingQueueURL string
	// DeadLetterQueueURL is the jobs queue's dead-letter queue, where
	// poison (a malformed message, a lookup the service refuses) is
	// parked at once with the problem named. Empty: poison is left on the
	// queue and reaches it after maxReceiveCount receives.
	DeadLetterQueueURL string
	// NotFoundGrace is how long after submission NotFound is taken for the
	// service's eventual consistency; after it the job is LOST.
	NotFoundGrace time.Duration
	// NotFoundRetry is the delay between lookups during the grace period.
	NotFoundRetry time.Duration
	// Policy plans the next lookup of a running job.
	Policy schedule.Policy
	// StillRunningAfter, when set, sends one STILL_RUNNING status change
	// for a job running longer than this (from its start): a warning that
	// it may be stuck, well before its deadline.
	StillRunningAfter time.Duration
	// Tracked, when set, records each job's end in the state table, drops
	// without a lookup the tracking messages of jobs already seen to end,
	// and keeps one tracking chain per job (see internal/state's chain).
	Tracked TrackedJobs
	// Lookups bounds the Admin API calls in flight for one batch.
	Lookups int
	// Retry shapes the delay of the copy that replaces a message after a
	// transient failure (by default from 5s, at most 5m).
	Retry queue.Retry
	// Margin is the time kept back before the invocation's deadline: no
	// message is taken with less left (10s).
	Margin time.Duration
	// Metrics receives the Backoffs metric; nil records nothing.
	Metrics *metrics.Recorder
	Now     func() time.Time
	Logger  *slog.Logger
	// LogLevel and MetricsNamespace are what ReadConfig read from
	// LOG_LEVEL and METRICS_NAMESPACE, for the caller's logger and
	// recorder.
	LogLevel         slog.Level
	MetricsNamespace string
	// StateTable is what ReadConfig read from STATE_TABLE, for the
	// caller's Tracked store.
	StateTable string
	// AppIDs are the apps a push hint for an environment applies to
	// (ALLOWED_APP_IDS).
	AppIDs []string
}

// Poller handles batches of tracking messages.
type Poller struct {
	cfg    Config
	api    JobAPI
	sender *queue.Sender
}

// New returns a Poller.
func New(cfg Config, api JobAPI, sqs queue.API) *Poller {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Lookups <= 0 {
		cfg.Lookups = 4
	}
	if cfg.NotFoundRetry <= 0 {
		cfg.NotFoundRetry = 5 * time.Second
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 10 * time.Second
	}
	return &Poller{cfg: cfg, api: api, sender: queue.NewSender(sqs)}
}

// Result says what became of a batch.
type Result struct {
	// Failed lists the ids of messages to leave on the queue for
	// redelivery: those whose follow-up could not be sent, and poison
	// when there is no dead-letter queue to park it in.
	Failed []string
	// Completed and Requeued count the messages whose job ended or goes
	// on; Lookups counts Admin API calls; Notices counts STILL_RUNNING
	// warnings sent; Dropped counts duplicates, stale forks and messages
	// of jobs already seen to end.
	Completed, Requeued, Lookups, Notices, Dropped int
	// Retried counts messages replaced by a delayed copy after a
	// transient failure, HandedBack those replaced by a copy, not
	// attempted, near the invocation's deadline, and Parked those sent to
	// the dead-letter queue.
	Retried, HandedBack, Parked int
}

// jobState is a job as one lookup saw it.
type jobState struct {
	Status, Error, Operation, CreateTime, UpdateTime string
}

// outcome is what becomes of a message. Decisions set it; a message whose
// follow-up could not be sent fails instead.
type outcome int

const (
	pending    outcome = iota
	completed          // the job ended: its status change goes out
	requeued           // the job runs on: its next message goes out
	retried            // a transient failure: a delayed copy replaces it
	handedBack         // not attempted for lack of time: a copy replaces it
	dropped            // a duplicate, a stale fork, a job seen to end
	parked             // poison: it goes to the dead-letter queue
	failed             // left on the queue for redelivery
)

// item follows one message through a batch.
type item struct {
	msg   queue.Message
	m     contract.TrackingMessage
	ctx   context.Context
	due   bool // to look up now (not a chained delay)
	hint  bool // looked up on a push hint, not from its message
	state *jobState
	err   error
	out   outcome
	// why is the problem of a parked message, the cause of a retried one.
	why string
	// tracked: the job has a record, whose chain its next message
	// advances (from the message's step to next).
	tracked bool
	next    state.Step
	change  *contract.StatusChange // the job ended
	notice  *contract.StatusChange // the job runs on: STILL_RUNNING
	requeue *time.Time
}

// Handle processes one batch. Every message is accounted for once in the
// Result (see outcome).
func (p *Poller) Handle(ctx context.Context, msgs []queue.Message) Result {
	now := p.cfg.Now()
	items := make([]*item, 0, len(msgs))
	for _, msg := range msgs {
		items = append(items, p.decode(ctx, msg, now))
	}
	p.followChains(ctx, items)
	return p.process(ctx, items)
}

// decode reads one message; a malformed one is poison.
func (p *Poller) decode(ctx context.Context, msg queue.Message, now time.Time) *item {
	it := &item{msg: msg, ctx: ctx}
	m, err := contract.DecodeTrackingMessage([]byte(msg.Body))
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "malformed tracking message: parking it in the dead-letter queue",
			"messageId", msg.ID, "problem", err.Error())
		it.out, it.why = parked, err.Error()
		return it
	}
	it.m = m
	it.ctx = logging.With(ctx, append(logging.Job(m.AppID, m.BackendEnvironmentName, m.JobID), slog.String("messageId", msg.ID))...)
	switch at, deferred := p.deferred(m, now); {
	case m.NotBefore != nil && now.Before(*m.NotBefore):
		at := *m.NotBefore
		it.requeue, it.out = &at, requeued
	case deferred:
		it.requeue, it.out = &at, requeued
	default:
		it.due = true
	}
	return it
}

// deferred reports whether the policy puts a job's first lookup off to
// at (schedule.Deferrer): its end is announced by a push hint.
func (p *Poller) deferred(m contract.TrackingMessage, now time.Time) (at time.Time, ok bool) {
	d, isDeferrer := p.cfg.Policy.(schedule.Deferrer)
	if !isDeferrer || m.Polls > 0 {
		return time.Time{}, false
	}
	return d.Defer(schedule.Job{Operation: m.Operation, Started: mustStart(m)}, now)
}

// process looks the due items up, decides, sends what follows and
// accounts for every item.
func (p *Poller) process(ctx context.Context, items []*item) Result {
	lookups := p.lookUp(ctx, items)
	now := p.cfg.Now()
	for _, it := range items {
		if it.due && it.out == pending {
			p.decide(it, now)
		}
		if it.hint && it.out != completed {
			// Still running, not found yet or not looked up: its own
			// tracking message goes on; a hint only settles jobs that ended.
			it.out, it.requeue, it.notice = dropped, nil, nil
		}
	}
	p.send(ctx, items, now)
	p.advanceChains(items)
	p.wake(ctx, items)
	p.recordEnds(items)
	return p.tally(items, lookups)
}

// tally counts the outcomes, and records the backoffs.
func (p *Poller) tally(items []*item, lookups int) Result {
	res := Result{Lookups: lookups}
	for _, it := range items {
		switch it.out {
		case failed:
			res.Failed = append(res.Failed, it.msg.ID)
		case completed:
			res.Completed++
		case requeued:
			res.Requeued++
			if it.notice != nil {
				res.Notices++
			}
		case retried:
			res.Retried++
			p.cfg.Metrics.Count(metrics.Backoffs, metrics.Dims{"Function": "poll", "Reason": it.why})
		case handedBack:
			res.HandedBack++
			p.cfg.Metrics.Count(metrics.Backoffs, metrics.Dims{"Function": "poll", "Reason": "Deadline"})
		case dropped:
			res.Dropped++
		case parked:
			res.Parked++
		}
	}
	return res
}

// Hint looks at once at the tracked jobs whose end the root stack of an
// environment announces (stacks.Of: the environment's own jobs, the clones
// that create it, the app's app-wide jobs), on a push hint that the stack
// reached stackStatus: each job that can end with that status (any when
// stackStatus is empty) is looked up, and if it ended, announced as its
// tracking message would have announced it, and recorded, so that its
// message, when due, is dropped without a lookup. Jobs still running are
// left to their messages. Hints need the state table (Config.Tracked).
func (p *Poller) Hint(ctx context.Context, appID, env, stackStatus string) (Result, error) {
	if p.cfg.Tracked == nil {
		return Result{}, errors.New("push hints need the tracked jobs (STATE_TABLE)")
	}
	msgs, err := p.cfg.Tracked.TrackedMessages(ctx, appID, env)
	if err != nil {
		return Result{}, err
	}
	items := make([]*item, 0, len(msgs))
	for _, m := range msgs {
		if stackStatus != "" && !stacks.Of(m.Operation).Settles(stackStatus) {
			continue
		}
		items = append(items, &item{m: m, due: true, hint: true, msg: queue.Message{ID: "hint:" + m.JobID},
			ctx: logging.With(ctx, append(logging.Job(m.AppID, m.BackendEnvironmentName, m.JobID), slog.Bool("hint", true))...)})
	}
	return p.process(ctx, items), nil
}

// recordEnds records in the state table the jobs that ended in this
// batch. A failure is logged: the status change went out, and a later
// message of the job is looked up and de-duplicated downstream.
func (p *Poller) recordEnds(items []*item) {
	if p.cfg.Tracked == nil {
		return
	}
	for _, it := range items {
		if it.out != completed {
			continue
		}
		if err := p.cfg.Tracked.FinishJob(it.ctx, it.m, *it.change); err != nil {
			p.cfg.Logger.WarnContext(it.ctx, "could not record the job's end", "error", err.Error())
		}
	}
}

// wake sends one wake-up per environment whose job ended. A lost wake-up
// only delays the line, which retries on its own, so failures are logged.
func (p *Poller) wake(ctx context.Context, items []*item) {
	if p.cfg.WaitingQueueURL == "" {
		return
	}
	woken := map[[2]string]bool{}
	var msgs []queue.Outgoing
	for _, it := range items {
		key := [2]string{it.m.AppID, it.m.BackendEnvironmentName}
		if it.out != completed || woken[key] {
			continue
		}
		woken[key] = true
		m, _ := queue.JSON(contract.NewWakeup(key[0], key[1]), 0) // plain struct: cannot fail
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return
	}
	_, errs := p.sender.Send(ctx, p.cfg.WaitingQueueURL, msgs)
	if err := errors.Join(errs...); err != nil {
		p.cfg.Logger.WarnContext(ctx, "wake-up not sent; waiting requests will retry on their own", "error", err.Error())
	}
}
