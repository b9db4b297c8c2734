package poll

import (
	"errors"
	"fmt"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// giveUpAfter is how long past its deadline a job whose lookups keep
// failing is followed: then its message is parked, where an alarm sees
// it, rather than cycling for ever.
const giveUpAfter = 24 * time.Hour

// decide turns a lookup into an outcome: a status change, a re-queue, a
// delayed copy or the dead-letter queue.
func (p *Poller) decide(it *item, now time.Time) {
	if it.err != nil {
		p.decideFailure(it, now)
		return
	}
	m := &it.m
	m.Polls++
	st := it.state
	if st.CreateTime != "" {
		m.CreateTime = st.CreateTime
	}
	switch st.Status {
	case amplify.JobStatusCompleted, amplify.JobStatusFailed:
		it.out, it.change = completed, p.statusChange(m, st, st.Status, now)
		if d, ok := contract.ServiceDuration(st.CreateTime, st.UpdateTime); ok {
			p.cfg.Policy.Observe(m.Operation, d)
		}
		return
	case amplify.JobStatusRunning:
	default:
		p.cfg.Logger.WarnContext(it.ctx, "job status never seen before; treating the job as still running", "status", st.Status)
	}
	if !now.Before(m.Deadline) {
		it.out, it.change = completed, p.statusChange(m, st, contract.StatusTimedOut, now)
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
	it.out, it.requeue = requeued, &at
}

// decideFailure decides on a failed lookup: NotFound is the service's
// eventual consistency for a while after submission, then the job is
// LOST; a transient failure puts the lookup off (a delayed copy of the
// message); a refusal is poison.
func (p *Poller) decideFailure(it *item, now time.Time) {
	m := &it.m
	log := p.cfg.Logger
	var nf *types.NotFoundException
	switch {
	case errors.As(it.err, &nf):
	case !queue.Transient(it.err):
		it.out, it.why = parked, fmt.Sprintf("look up job %s: %v", m.JobID, it.err)
		log.ErrorContext(it.ctx, "the service refused the job's lookup: parking its message in the dead-letter queue", "error", it.err.Error())
		return
	case now.After(m.Deadline.Add(giveUpAfter)):
		it.out, it.why = parked, fmt.Sprintf("lookups of job %s still failing %v past its deadline: %v", m.JobID, giveUpAfter, it.err)
		log.ErrorContext(it.ctx, "job lookups still failing long past the deadline: parking its message in the dead-letter queue", "error", it.err.Error())
		return
	default:
		it.out, it.why = retried, queue.Cause(it.err)
		log.WarnContext(it.ctx, "job lookup failed; a delayed copy of the message will try again", "cause", it.why,
			"attempt", it.msg.Attempt+1, "error", it.err.Error())
		return
	}
	m.Polls++
	if now.Sub(m.SubmittedAt) < p.cfg.NotFoundGrace {
		at := now.Add(p.cfg.NotFoundRetry)
		it.out, it.requeue = requeued, &at
		log.InfoContext(it.ctx, "job not found yet; retrying within the grace period",
			"sinceSubmission", now.Sub(m.SubmittedAt).String())
		return
	}
	it.out, it.change = completed, p.statusChange(m, &jobState{}, contract.StatusLost, now)
	it.change.Error = fmt.Sprintf("the service has not known job %s for %s since its submission", m.JobID, now.Sub(m.SubmittedAt).Round(time.Second))
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
