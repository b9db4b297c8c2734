// Package poll follows tracked jobs: for each tracking message it looks the
// job up, announces an ended job on the completions queue and re-queues a
// running one for the time its scheduling policy picks. The core has no
// Lambda types; lambda.go adapts it to an SQS event source.
package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
	"github.com/jobwatch/jobwatch/internal/state"
)

// JobAPI is the part of the Admin API poll uses.
type JobAPI interface {
	GetBackendJob(context.Context, *amplify.GetBackendJobInput, ...func(*amplify.Options)) (*amplify.GetBackendJobOutput, error)
	ListBackendJobs(context.Context, *amplify.ListBackendJobsInput, ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error)
}

// TrackedJobs is the part of the state table poll uses: the jobs jobwatch
// tracks. *state.Store implements it.
type TrackedJobs interface {
	EndedJobs(ctx context.Context, keys []state.JobKey) (map[state.JobKey]bool, error)
	FinishJob(ctx context.Context, k state.JobKey, status string, polls int) error
	TrackedMessages(ctx context.Context, appID, env string) ([]contract.TrackingMessage, error)
}

// Config configures a Poller.
type Config struct {
	JobsQueueURL        string
	CompletionsQueueURL string
	// WaitingQueueURL receives a wake-up for an environment whose job
	// ended, so requests waiting for it move at once.
	WaitingQueueURL string
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
	// Tracked, when set, records each job's end in the state table and
	// drops, without a lookup, the tracking messages of jobs already seen
	// to end (duplicates, or jobs a push hint settled first).
	Tracked TrackedJobs
	// Lookups bounds the Admin API calls in flight for one batch.
	Lookups int
	Now     func() time.Time
	Logger  *slog.Logger
	// LogLevel is what ReadConfig read from LOG_LEVEL, for the caller's
	// logger.
	LogLevel slog.Level
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
	return &Poller{cfg: cfg, api: api, sender: queue.NewSender(sqs)}
}

// Result says what became of a batch.
type Result struct {
	// Failed lists the ids of messages to leave on the queue for
	// redelivery: malformed ones (they reach the DLQ), ones whose lookup
	// was throttled or failed, ones whose follow-up could not be sent.
	Failed []string
	// Completed and Requeued count the other messages' outcomes; Lookups
	// counts Admin API calls; Notices counts STILL_RUNNING warnings sent;
	// Dropped counts messages of jobs already seen to end.
	Completed, Requeued, Lookups, Notices, Dropped int
}

// jobState is a job as one lookup saw it.
type jobState struct {
	Status, Error, Operation, CreateTime, UpdateTime string
}

// item follows one message through a batch.
type item struct {
	msg     queue.Message
	m       contract.TrackingMessage
	ctx     context.Context
	due     bool // to look up now (not a chained delay)
	state   *jobState
	err     error
	failed  bool
	dropped bool                   // the job is known to have ended
	hint    bool                   // looked up on a push hint, not from its message
	change  *contract.StatusChange // the job ended
	notice  *contract.StatusChange // the job runs on: STILL_RUNNING
	requeue *time.Time
}

// Handle processes one batch. Every message is accounted for: it ends
// either completed, re-queued or in Result.Failed.
func (p *Poller) Handle(ctx context.Context, msgs []queue.Message) Result {
	now := p.cfg.Now()
	items := make([]*item, 0, len(msgs))
	var res Result
	for _, msg := range msgs {
		it := &item{msg: msg, ctx: ctx}
		m, err := contract.DecodeTrackingMessage([]byte(msg.Body))
		if err != nil {
			p.cfg.Logger.ErrorContext(ctx, "malformed tracking message: leaving it for the dead-letter queue",
				"messageId", msg.ID, "problem", err.Error())
			res.Failed = append(res.Failed, msg.ID)
			continue
		}
		it.m = m
		it.ctx = logging.With(ctx, append(logging.Job(m.AppID, m.BackendEnvironmentName, m.JobID), slog.String("messageId", msg.ID))...)
		if m.NotBefore != nil && now.Before(*m.NotBefore) {
			at := *m.NotBefore
			it.requeue = &at
		} else {
			it.due = true
		}
		items = append(items, it)
	}
	p.dropEnded(ctx, items)
	return p.process(ctx, items, res)
}

// process looks the due items up, decides, sends what follows and
// accounts for every item in res.
func (p *Poller) process(ctx context.Context, items []*item, res Result) Result {
	res.Lookups = p.lookUp(ctx, items)
	now := p.cfg.Now()
	for _, it := range items {
		if it.due {
			p.decide(it, now)
		}
		if it.hint && it.change == nil {
			// Still running (or not found yet): its own tracking message
			// goes on; a hint only settles jobs that ended.
			it.requeue, it.notice, it.failed, it.dropped = nil, nil, false, true
		}
	}
	p.send(ctx, items, now)

	woken := map[[2]string]bool{}
	var wakeups []contract.Wakeup
	for _, it := range items {
		switch {
		case it.failed:
			res.Failed = append(res.Failed, it.msg.ID)
		case it.dropped:
			res.Dropped++
		case it.change != nil:
			res.Completed++
			key := [2]string{it.m.AppID, it.m.BackendEnvironmentName}
			if !woken[key] {
				woken[key] = true
				wakeups = append(wakeups, contract.NewWakeup(key[0], key[1]))
			}
		default:
			res.Requeued++
			if it.notice != nil {
				res.Notices++
			}
		}
	}
	p.wake(ctx, wakeups)
	p.recordEnds(ctx, items)
	return res
}

// Hint looks at once at the jobs tracked on one environment, on a push
// hint that something there changed (its CloudFormation stack finished
// an update): each that ended is announced as its tracking message would
// have announced it, and recorded, so that its message, when due, is
// dropped without a lookup. Jobs still running are left to their
// messages. Hints need the state table (Config.Tracked).
func (p *Poller) Hint(ctx context.Context, appID, env string) (Result, error) {
	if p.cfg.Tracked == nil {
		return Result{}, errors.New("push hints need the tracked jobs (STATE_TABLE)")
	}
	msgs, err := p.cfg.Tracked.TrackedMessages(ctx, appID, env)
	if err != nil {
		return Result{}, err
	}
	items := make([]*item, 0, len(msgs))
	for _, m := range msgs {
		items = append(items, &item{m: m, due: true, hint: true, msg: queue.Message{ID: "hint:" + m.JobID},
			ctx: logging.With(ctx, append(logging.Job(m.AppID, m.BackendEnvironmentName, m.JobID), slog.Bool("hint", true))...)})
	}
	return p.process(ctx, items, Result{}), nil
}

// dropEnded settles, without a lookup, the due messages of jobs the state
// table records as ended: a duplicate tracking message, or one whose job
// a push hint already announced.
func (p *Poller) dropEnded(ctx context.Context, items []*item) {
	if p.cfg.Tracked == nil {
		return
	}
	var keys []state.JobKey
	for _, it := range items {
		if it.due {
			keys = append(keys, state.JobKeyOf(it.m))
		}
	}
	if len(keys) == 0 {
		return
	}
	done, err := p.cfg.Tracked.EndedJobs(ctx, keys)
	if err != nil {
		// Looking the jobs up is always right, only dearer.
		p.cfg.Logger.WarnContext(ctx, "could not read tracked jobs; looking them up", "error", err.Error())
		return
	}
	for _, it := range items {
		if it.due && done[state.JobKeyOf(it.m)] {
			it.due, it.dropped = false, true
			p.cfg.Logger.InfoContext(it.ctx, "job already seen to end; dropping its tracking message")
		}
	}
}

// recordEnds records in the state table the jobs that ended in this
// batch. A failure is logged: the status change went out, and a later
// message of the job is looked up and de-duplicated downstream.
func (p *Poller) recordEnds(ctx context.Context, items []*item) {
	if p.cfg.Tracked == nil {
		return
	}
	for _, it := range items {
		if it.failed || it.change == nil {
			continue
		}
		if err := p.cfg.Tracked.FinishJob(it.ctx, state.JobKeyOf(it.m), it.change.Status, it.change.Polls); err != nil {
			p.cfg.Logger.WarnContext(it.ctx, "could not record the job's end", "error", err.Error())
		}
	}
}

// lookUp fills in each due item's job state. Where a batch holds several
// jobs of one environment, one ListBackendJobs call answers for all of
// them; a job it does not list is looked up on its own.
func (p *Poller) lookUp(ctx context.Context, items []*item) int {
	groups := map[[2]string][]*item{}
	var order [][2]string
	for _, it := range items {
		if !it.due {
			continue
		}
		key := [2]string{it.m.AppID, it.m.BackendEnvironmentName}
		if groups[key] == nil {
			order = append(order, key)
		}
		groups[key] = append(groups[key], it)
	}
	var (
		mu    sync.Mutex
		calls int
		wg    sync.WaitGroup
		sem   = make(chan struct{}, p.cfg.Lookups)
	)
	count := func(n int) { mu.Lock(); calls += n; mu.Unlock() }
	lookGroup := func(key [2]string, group []*item) {
		rest := group
		if len(group) > 1 {
			count(1)
			rest = p.listGroup(ctx, key, group)
		}
		for _, it := range rest {
			count(1)
			p.get(it)
		}
	}
	if len(order) == 1 {
		// One environment (often one message): no goroutine to wait for.
		lookGroup(order[0], groups[order[0]])
		return calls
	}
	for _, key := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			lookGroup(key, groups[key])
		}()
	}
	wg.Wait()
	return calls
}

// listGroup answers a group from one ListBackendJobs page and returns the
// items it did not answer.
func (p *Poller) listGroup(ctx context.Context, key [2]string, group []*item) []*item {
	out, err := p.api.ListBackendJobs(ctx, &amplify.ListBackendJobsInput{
		AppId: aws.String(key[0]), BackendEnvironmentName: aws.String(key[1]), MaxResults: aws.Int32(25),
	})
	if err != nil {
		p.cfg.Logger.WarnContext(logging.With(ctx, logging.Job(key[0], key[1], "")...),
			"list backend jobs failed; looking jobs up one by one", "error", err.Error())
		return group
	}
	listed := map[string]jobState{}
	for _, j := range out.Jobs {
		listed[aws.ToString(j.JobId)] = jobState{
			Status: aws.ToString(j.Status), Error: aws.ToString(j.Error), Operation: aws.ToString(j.Operation),
			CreateTime: aws.ToString(j.CreateTime), UpdateTime: aws.ToString(j.UpdateTime),
		}
	}
	var rest []*item
	for _, it := range group {
		if st, ok := listed[it.m.JobID]; ok {
			it.state = &st
		} else {
			rest = append(rest, it)
		}
	}
	return rest
}

func (p *Poller) get(it *item) {
	out, err := p.api.GetBackendJob(it.ctx, &amplify.GetBackendJobInput{
		AppId: aws.String(it.m.AppID), BackendEnvironmentName: aws.String(it.m.BackendEnvironmentName), JobId: aws.String(it.m.JobID),
	})
	if err != nil {
		it.err = err
		return
	}
	it.state = &jobState{
		Status: aws.ToString(out.Status), Error: aws.ToString(out.Error), Operation: aws.ToString(out.Operation),
		CreateTime: aws.ToString(out.CreateTime), UpdateTime: aws.ToString(out.UpdateTime),
	}
}

// decide turns a lookup into an outcome: a status change, a re-queue or a
// failure left for redelivery.
func (p *Poller) decide(it *item, now time.Time) {
	m := &it.m
	log := p.cfg.Logger
	if it.err != nil {
		var nf *types.NotFoundException
		if !errors.As(it.err, &nf) {
			log.WarnContext(it.ctx, "job lookup failed; the message will be redelivered", "error", it.err.Error())
			it.failed = true
			return
		}
		m.Polls++
		if now.Sub(m.SubmittedAt) < p.cfg.NotFoundGrace {
			at := now.Add(p.cfg.NotFoundRetry)
			it.requeue = &at
			log.InfoContext(it.ctx, "job not found yet; retrying within the grace period",
				"sinceSubmission", now.Sub(m.SubmittedAt).String())
			return
		}
		it.change = p.statusChange(m, &jobState{}, contract.StatusLost, now)
		it.change.Error = fmt.Sprintf("the service has not known job %s for %s since its submission", m.JobID, now.Sub(m.SubmittedAt).Round(time.Second))
		return
	}
	m.Polls++
	st := it.state
	if st.CreateTime != "" {
		m.CreateTime = st.CreateTime
	}
	switch st.Status {
	case amplify.JobStatusCompleted, amplify.JobStatusFailed:
		it.change = p.statusChange(m, st, st.Status, now)
		if d, ok := contract.ServiceDuration(st.CreateTime, st.UpdateTime); ok {
			p.cfg.Policy.Observe(m.Operation, d)
		}
		return
	case amplify.JobStatusRunning:
	default:
		log.WarnContext(it.ctx, "job status never seen before; treating the job as still running", "status", st.Status)
	}
	if !now.Before(m.Deadline) {
		it.change = p.statusChange(m, st, contract.StatusTimedOut, now)
		it.change.PreviousStatus = st.Status
		it.change.Error = fmt.Sprintf("still %s at the deadline, %s after submission", st.Status, m.Deadline.Sub(m.SubmittedAt).Round(time.Second))
		return
	}
	m.LastStatus = st.Status
	started := mustStart(*m)
	if p.cfg.StillRunningAfter > 0 && !m.StillRunningSent && now.Sub(started) >= p.cfg.StillRunningAfter {
		it.notice = p.statusChange(m, st, contract.StatusStillRunning, now)
		it.notice.PreviousStatus = st.Status
		m.StillRunningSent = true
	}
	at := p.cfg.Policy.Next(schedule.Job{Operation: m.Operation, Started: started, Polls: m.Polls}, now)
	if at.After(m.Deadline) {
		at = m.Deadline
	}
	it.requeue = &at
}

// statusChange builds the event for a job that reached status.
func (p *Poller) statusChange(m *contract.TrackingMessage, st *jobState, status string, now time.Time) *contract.StatusChange {
	createTime := st.CreateTime
	if createTime == "" {
		createTime = m.CreateTime
	}
	c := contract.NewStatusChange(contract.Ending{
		AppID: m.AppID, BackendEnvironmentName: m.BackendEnvironmentName, JobID: m.JobID, Operation: m.Operation,
		RequestID: m.RequestID, Status: status, PreviousStatus: m.LastStatus, Error: st.Error,
		CreateTime: createTime, UpdateTime: st.UpdateTime, SubmittedAt: m.SubmittedAt, Polls: m.Polls,
	}, now)
	return &c
}

// mustStart is when a job started: its CreateTime, else its submission.
func mustStart(m contract.TrackingMessage) time.Time {
	if t, ok := contract.ParseServiceTime(m.CreateTime); ok {
		return t
	}
	return m.SubmittedAt
}

// send delivers the batch's status changes and re-queues; an item whose
// message could not be sent fails, so its tracking message is redelivered
// and the work is redone rather than lost.
func (p *Poller) send(ctx context.Context, items []*item, now time.Time) {
	var changes, requeues []*item
	for _, it := range items {
		switch {
		case it.failed:
		case it.change != nil:
			changes = append(changes, it)
		case it.requeue != nil:
			requeues = append(requeues, it)
			if it.notice != nil {
				changes = append(changes, it)
			}
		}
	}
	p.sendItems(ctx, p.cfg.CompletionsQueueURL, changes, func(it *item) (queue.Outgoing, error) {
		c := it.change
		if c == nil {
			c = it.notice
		}
		return queue.JSON(c, 0)
	})
	p.sendItems(ctx, p.cfg.JobsQueueURL, requeues, func(it *item) (queue.Outgoing, error) {
		delay := it.requeue.Sub(now)
		m := it.m
		m.NotBefore = nil
		if delay > queue.MaxDelay {
			at := *it.requeue
			m.NotBefore = &at
			delay = queue.MaxDelay
		}
		return queue.JSON(m, delay)
	})
	for _, it := range changes {
		if !it.failed && it.notice != nil {
			p.cfg.Logger.WarnContext(it.ctx, "job still running", "runningFor", now.Sub(mustStart(it.m)).Round(time.Second).String())
		}
		if !it.failed && it.change != nil {
			p.cfg.Logger.InfoContext(it.ctx, "job ended", "status", it.change.Status, "polls", it.change.Polls,
				"durationSeconds", it.change.DurationSeconds)
		}
	}
}

// sendItems sends one message per item to queueURL, marking the items
// whose message was not sent as failed.
func (p *Poller) sendItems(ctx context.Context, queueURL string, items []*item, message func(*item) (queue.Outgoing, error)) {
	var msgs []queue.Outgoing
	var sent []*item
	for _, it := range items {
		m, err := message(it)
		if err != nil {
			p.cfg.Logger.ErrorContext(it.ctx, "encode message", "error", err.Error())
			it.failed = true
			continue
		}
		msgs, sent = append(msgs, m), append(sent, it)
	}
	_, errs := p.sender.Send(ctx, queueURL, msgs)
	for i, err := range errs {
		if err != nil {
			p.cfg.Logger.ErrorContext(sent[i].ctx, "message not sent; the tracking message will be redelivered",
				"queueUrl", queueURL, "error", err.Error())
			sent[i].failed = true
		}
	}
}

// wake sends one wake-up per environment whose job ended. A lost wake-up
// only delays the line, which retries on its own, so failures are logged.
func (p *Poller) wake(ctx context.Context, wakeups []contract.Wakeup) {
	if p.cfg.WaitingQueueURL == "" {
		return
	}
	msgs := make([]queue.Outgoing, 0, len(wakeups))
	for _, w := range wakeups {
		m, _ := queue.JSON(w, 0) // plain struct: cannot fail
		msgs = append(msgs, m)
	}
	_, errs := p.sender.Send(ctx, p.cfg.WaitingQueueURL, msgs)
	if err := errors.Join(errs...); err != nil {
		p.cfg.Logger.WarnContext(ctx, "wake-up not sent; waiting requests will retry on their own", "error", err.Error())
	}
}
