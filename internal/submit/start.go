package submit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/state"
)

// attempt is one try at starting a request's job, by the invocation that
// holds the request's record.
type attempt struct {
	rec *state.Request
	op  *amplify.Operation
	// input is the operation's typed input; nil when it is not known (a
	// request looked at on another's behalf): then a job of the request
	// may be found, but none is started.
	input any
	// line is the environment's line, kept as last read or written.
	line *state.Line
	// head says the request is the head of its line (a wake-up's try);
	// otherwise it is a request just received, which may start only on a
	// line nobody waits in.
	head bool
}

// step is where an attempt left a request.
type step int

const (
	// notFound: no job found for an attempt without an input (and none
	// started); the zero step.
	notFound step = iota
	// started: the request has its job, recorded and tracked.
	started
	// wait: the environment is busy (a job runs, another request is
	// starting, others wait): the request waits in line.
	wait
	// putOff: the Admin API did not let the request start now
	// (throttling, an outage, an unanswered call): it waits, and is tried
	// again after a backoff.
	putOff
	// refused: the service refused the request for good.
	refused
)

// outcome is where an attempt left a request, and why.
type outcome struct {
	step  step
	cause error // why it waits, was put off or was refused
}

// errOtherStarting is why a request waits while another request of its
// environment is starting a job.
var errOtherStarting = errors.New("another request is starting a job on the environment")

// start tries to start the job of a request this invocation holds: it
// marks the request as starting on its line (one request at a time per
// environment), records that it is starting, calls, and records and
// tracks the job. A request whose earlier call went unanswered looks for
// its job first (reconcile) and calls again only when there is none and
// the environment is free; a call that goes unanswered now is looked for
// at once, and otherwise at the next attempt. The error is a failure of
// the state table or a queue.
func (s *Submitter) start(ctx context.Context, a *attempt) (outcome, error) {
	if a.input != nil {
		blocked, err := s.markStart(ctx, a)
		if err != nil || blocked {
			return outcome{step: wait, cause: errOtherStarting}, err
		}
	}
	if a.rec.Unanswered {
		o, free, err := s.reconcile(ctx, a)
		if err != nil || !free {
			return o, err
		}
	}
	if a.input == nil {
		return outcome{}, nil // notFound
	}
	out, err := s.call(ctx, a)
	if err == nil {
		return outcome{step: started}, s.started(ctx, a, out)
	}
	var callErr *CallError
	if !errors.As(err, &callErr) {
		return outcome{}, err
	}
	switch answerOf(callErr.Err) {
	case answerBusy:
		return s.answered(ctx, a, wait, callErr)
	case answerThrottled:
		return s.answered(ctx, a, putOff, callErr)
	case answerRefused:
		return s.answered(ctx, a, refused, callErr)
	}
	s.log.WarnContext(ctx, "the job-starting call was not answered; looking for its job", "error", err.Error())
	if err := s.update(ctx, a.rec, func(x *state.Request) error { x.Unanswered = true; return nil }); err != nil {
		return outcome{}, fmt.Errorf("record that %s was not answered: %w", a.rec.ID(), err)
	}
	o, _, err := s.reconcile(ctx, &attempt{rec: a.rec, op: a.op, line: a.line, head: a.head})
	if err != nil || o.step == started {
		return o, err
	}
	return outcome{step: putOff, cause: callErr}, nil
}

// call records that the request is starting (with the time, kept while
// an earlier call is unanswered) and calls its operation. A failed call
// is a *CallError.
func (s *Submitter) call(ctx context.Context, a *attempt) (any, error) {
	now := s.now().UTC()
	if err := s.update(ctx, a.rec, func(x *state.Request) error {
		if !x.Unanswered || x.StartingAt == nil {
			x.StartingAt = &now
		}
		return x.To(state.Starting)
	}); err != nil {
		return nil, fmt.Errorf("record that %s is starting: %w", a.rec.ID(), err)
	}
	out, err := s.adminAPI(ctx, a.op, a.input)
	if err != nil {
		return nil, &CallError{RequestID: a.rec.ID(), Operation: a.op.Name, AppID: a.rec.AppID,
			BackendEnvironmentName: a.rec.BackendEnvironmentName, Err: err}
	}
	return out, nil
}

// started records the job an operation started, tracks it and takes the
// request off the requests starting.
func (s *Submitter) started(ctx context.Context, a *attempt, out any) error {
	jobID, _ := member(out, "JobId")
	status, _ := member(out, "Status")
	if jobID == "" {
		err := fmt.Errorf("%s answered without a JobId: there is no job to watch", a.rec.Operation)
		_ = s.update(ctx, a.rec, func(x *state.Request) error {
			x.Status, x.Error, x.Unanswered = contract.StatusFailed, err.Error(), false
			x.Unlease()
			return x.To(state.Failed)
		})
		s.dropStart(ctx, a)
		return err
	}
	return s.gotJob(ctx, a, jobID, status, s.now().UTC())
}

// gotJob records that the request has job jobID (submitted at the given
// time), tracks it and takes the request off the requests starting.
func (s *Submitter) gotJob(ctx context.Context, a *attempt, jobID, status string, submittedAt time.Time) error {
	if err := s.update(ctx, a.rec, func(x *state.Request) error {
		x.JobID, x.Status, x.SubmittedAt, x.Tracked, x.Unanswered = jobID, status, &submittedAt, false, false
		if x.State == state.Waiting { // it was looking for the job of an unanswered call: starting, in one write
			if err := x.To(state.Starting); err != nil {
				return err
			}
		}
		return x.To(state.Started)
	}); err != nil {
		return fmt.Errorf("record job %s: %w", jobID, err)
	}
	if err := s.track(ctx, a.rec); err != nil {
		return err
	}
	s.metrics.Count(metrics.JobsSubmitted, metrics.Dims{"Operation": a.rec.Operation})
	s.dropStart(ctx, a)
	return nil
}

// answered records that a call's answer says it started no job (busy,
// throttled, refused): the request is as received again, and off the
// requests starting — unless an earlier call of it is still unanswered
// and the service did not refuse it for good.
func (s *Submitter) answered(ctx context.Context, a *attempt, st step, cause error) (outcome, error) {
	if err := s.update(ctx, a.rec, func(x *state.Request) error { return x.To(state.Received) }); err != nil {
		return outcome{}, fmt.Errorf("record that the call of %s started nothing: %w", a.rec.ID(), err)
	}
	if st == refused || !a.rec.Unanswered {
		s.dropStart(ctx, a)
	}
	return outcome{step: st, cause: cause}, nil
}

// markStart lists the request among those starting on its line, before
// its call. It is blocked (and lists nothing) while another request of
// the environment is starting — one whose record says it may have started
// a job — or, for a request just received, while others wait; markers
// others left behind are dropped or, on a wake-up, settled first.
func (s *Submitter) markStart(ctx context.Context, a *attempt) (blocked bool, err error) {
	me := a.rec.ID()
	if blocked, err := s.settleStarts(ctx, a.line, me, a.head); err != nil || blocked {
		return blocked, err
	}
	at := s.now().UTC()
	if a.rec.Unanswered && a.rec.StartingAt != nil {
		at = *a.rec.StartingAt
	}
	err = s.store.EditLine(ctx, a.line, func(l *state.Line) (bool, error) {
		blocked = false
		for _, m := range l.Starting {
			if m.RequestID != me {
				blocked = true
				return false, nil
			}
		}
		if !a.head && len(l.Entries) > 0 || a.head && (len(l.Entries) == 0 || l.Entries[0].RequestID != me) {
			blocked = true
			return false, nil
		}
		if _, ok := l.Marker(me); ok {
			return false, nil
		}
		l.Mark(state.StartMarker{RequestID: me, Operation: a.rec.Operation, At: at})
		return true, nil
	})
	if err != nil {
		return false, fmt.Errorf("mark %s as starting on the line of app %s environment %s: %w",
			me, a.line.AppID, a.line.BackendEnvironmentName, err)
	}
	return blocked, nil
}

// dropStart takes the request off the requests starting on its line. A
// failure is logged: a marker left behind is dropped by the next request
// that finds it (settleStarts).
func (s *Submitter) dropStart(ctx context.Context, a *attempt) {
	line := a.line
	if line == nil {
		var err error
		if line, err = s.store.Line(ctx, a.rec.AppID, a.rec.BackendEnvironmentName); err != nil {
			s.log.WarnContext(ctx, "could not read the line to drop the start marker", "error", err.Error())
			return
		}
		a.line = line
	}
	if _, ok := line.Marker(a.rec.ID()); !ok {
		return
	}
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) { return l.Unmark(a.rec.ID()), nil })
	if err != nil {
		s.log.WarnContext(ctx, "could not drop the start marker", "error", err.Error())
	}
}

// settleStarts looks at the start markers of requests other than me: it
// drops those whose request can no longer have started an unknown job
// (it has its job, ended, or never called), and reports blocked while one
// may have. With orphans set (a wake-up), the request of a marker whose
// holder is gone is looked after on its behalf: its job adopted if there
// is one, its marker dropped if not.
func (s *Submitter) settleStarts(ctx context.Context, line *state.Line, me string, orphans bool) (blocked bool, err error) {
	for _, m := range append([]state.StartMarker(nil), line.Starting...) {
		if m.RequestID == me {
			continue
		}
		rec, err := s.store.Request(ctx, m.RequestID)
		if err != nil {
			return false, err
		}
		switch {
		case !mayHaveStarted(rec):
			s.unmark(ctx, line, m.RequestID)
		case rec.Leased(s.now()) || !orphans:
			return true, nil
		default:
			if done, err := s.settleOrphan(ctx, line, rec); err != nil || !done {
				return true, err
			}
		}
	}
	return false, nil
}

// mayHaveStarted reports whether a request's record says a job of it may
// exist that nobody knows of yet.
func mayHaveStarted(rec *state.Request) bool {
	if rec == nil || rec.State == state.Started || rec.State == state.Failed || rec.State == state.TimedOut {
		return false
	}
	return rec.State == state.Starting || rec.Unanswered
}

// unmark drops another request's start marker; a failure only delays it.
func (s *Submitter) unmark(ctx context.Context, line *state.Line, requestID string) {
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) { return l.Unmark(requestID), nil })
	if err != nil {
		s.log.WarnContext(ctx, "could not drop a stale start marker", "startingRequestId", requestID, "error", err.Error())
	}
}

// settleOrphan looks for the job of a request whose holder is gone while
// it was starting, on its behalf: the job is adopted when found, and the
// marker dropped when there is none (the request itself, when it comes
// again, calls — it holds the input). done is false while the request
// cannot be settled now (another invocation took it, or the Admin API is
// unavailable).
func (s *Submitter) settleOrphan(ctx context.Context, line *state.Line, rec *state.Request) (done bool, err error) {
	ctx = logging.With(ctx, slog.String("startingRequestId", rec.ID()))
	held, err := s.lease(ctx, rec, nil)
	if err != nil || held == nil {
		return false, err
	}
	a := &attempt{rec: held, line: line}
	o, err := s.start(ctx, a)
	if err != nil {
		s.unlock(ctx, held)
		return false, err
	}
	switch o.step {
	case started:
		return true, nil
	case notFound:
		s.log.InfoContext(ctx, "no job found for a request whose holder is gone; its marker is dropped")
		s.unlock(ctx, held)
		s.dropStart(ctx, a)
		return true, nil
	}
	s.unlock(ctx, held)
	if o.step == putOff {
		return false, &putOffError{err: o.cause}
	}
	return false, nil
}

// reconcile looks for the job an unanswered call of the request may have
// started: among the environment's jobs of its operation created since
// its StartingAt less state.ClockSkew, newest first, the newest that no
// other request or tracker holds is claimed and adopted (it carries the
// request id from then on). free says there is none, and, for a request
// that would call again (it holds its input), that no job runs on the
// environment. A lookup that fails puts the request off; a job of
// another owner running makes a request that would call again wait —
// one that would not (past its wait deadline, or an orphan settled by
// another) has its answer: no job of its own.
func (s *Submitter) reconcile(ctx context.Context, a *attempt) (o outcome, free bool, err error) {
	since := a.rec.ArrivedAt
	if a.rec.StartingAt != nil {
		since = *a.rec.StartingAt
	}
	since = since.Add(-state.ClockSkew)
	for _, filter := range []*amplify.ListBackendJobsInput{
		{Operation: aws.String(a.rec.Operation)},
		{Status: aws.String(amplify.JobStatusRunning)}, // also one created since the first listing
	} {
		jobs, running, err := s.listJobs(ctx, a.rec, filter, since)
		if err != nil {
			return outcome{step: putOff, cause: fmt.Errorf("look for the job of request %s: %w", a.rec.ID(), err)}, false, nil
		}
		if ok, err := s.adopt(ctx, a, jobs); err != nil || ok {
			return outcome{step: started}, false, err
		}
		if running != "" && a.input != nil {
			return outcome{step: wait, cause: fmt.Errorf("job %s of another owner runs on the environment", running)}, false, nil
		}
	}
	return outcome{}, true, nil
}

// listJobs lists the environment's jobs that filter selects, newest
// first, until they are older than since, and returns those of the
// request's operation created since then, and a job running if any.
func (s *Submitter) listJobs(ctx context.Context, rec *state.Request, filter *amplify.ListBackendJobsInput, since time.Time) (jobs []types.BackendJobRespObj, running string, err error) {
	in := *filter
	in.AppId, in.BackendEnvironmentName = aws.String(rec.AppID), aws.String(rec.BackendEnvironmentName)
	p := amplify.NewListBackendJobsPaginator(s.jobs, &in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, "", err
		}
		for _, j := range page.Jobs {
			created, ok := contract.ParseServiceTime(aws.ToString(j.CreateTime))
			if ok && created.Before(since) {
				return jobs, running, nil // newest first: the rest are older
			}
			if aws.ToString(j.Status) == amplify.JobStatusRunning {
				running = aws.ToString(j.JobId)
			}
			if ok && aws.ToString(j.JobId) != "" && aws.ToString(j.Operation) == rec.Operation {
				jobs = append(jobs, j)
			}
		}
	}
	return jobs, running, nil
}

// adopt claims the first of jobs that nobody else holds as the request's
// job, and records and tracks it.
func (s *Submitter) adopt(ctx context.Context, a *attempt, jobs []types.BackendJobRespObj) (bool, error) {
	submittedAt := a.rec.ArrivedAt
	if a.rec.StartingAt != nil {
		submittedAt = *a.rec.StartingAt
	}
	for _, j := range jobs {
		jobID, status := aws.ToString(j.JobId), aws.ToString(j.Status)
		// The job was submitted when the service created it: the call that
		// started it may be a later one than StartingAt (the first whose
		// answer was lost), and poll's NotFound grace counts from here.
		submittedAt := submittedAt
		if created, ok := contract.ParseServiceTime(aws.ToString(j.CreateTime)); ok && created.After(submittedAt) {
			submittedAt = created
		}
		candidate := *a.rec
		candidate.JobID, candidate.Status, candidate.SubmittedAt = jobID, status, &submittedAt
		claim, err := s.store.ClaimJob(ctx, s.trackingMessage(&candidate), sourceSubmit, s.leaseUntil(ctx))
		if err != nil {
			return false, err
		}
		if claim == nil {
			continue // another request's or tracker's
		}
		s.log.InfoContext(ctx, "found the job of an unanswered call; it is the request's", "jobId", jobID, "status", status)
		return true, s.gotJob(ctx, a, jobID, status, submittedAt)
	}
	return false, nil
}
