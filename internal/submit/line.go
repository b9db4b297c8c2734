package submit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/state"
)

// join puts a request at the back of its environment's line — at the
// front when it holds the environment's start marker (it was starting
// before the others joined) — and makes sure a wake-up will look at the
// line: after WaitRetryDelay, or a backoff when the Admin API put the
// request off (why).
func (s *Submitter) join(ctx context.Context, r *request, rec *state.Request, line *state.Line, why error) (Result, error) {
	entry := state.LineEntry{RequestID: r.id, Request: state.WaitingRequest{Operation: r.op.Name, Input: r.inputJSON},
		ArrivedAt: rec.ArrivedAt, Deadline: rec.ArrivedAt.Add(s.cfg.WaitDeadline)}
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		switch {
		case l.Position(r.id) >= 0:
			return false, nil // in line already: an earlier attempt joined
		case len(l.Entries) >= s.cfg.MaxLine:
			return false, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"%d requests already wait for app %s environment %s, the most a line holds; try again later",
				len(l.Entries), r.appID, r.env)}
		}
		if _, starting := l.Marker(r.id); starting {
			l.Entries = append([]state.LineEntry{entry}, l.Entries...)
		} else {
			l.Entries = append(l.Entries, entry)
		}
		if !l.Fits() {
			return false, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"the requests waiting for app %s environment %s already fill the line's %d KB; try again later",
				r.appID, r.env, state.MaxLineBytes/1024)}
		}
		return true, nil
	})
	if full := new(*RefusedError); errors.As(err, full) {
		s.refuse(ctx, rec, refusal(err))
		return Result{}, err
	}
	if err != nil {
		s.release(ctx, rec)
		if errors.Is(err, state.ErrConflict) {
			err = fmt.Errorf("join the line of app %s environment %s: %w", r.appID, r.env, err)
		}
		return Result{}, err
	}
	s.metrics.Add(metrics.JobsWaiting, float64(len(line.Entries)), nil)
	delay := s.cfg.WaitRetryDelay
	if errors.As(why, new(*putOffError)) {
		delay = s.backoff(1)
	}
	if err := s.scheduleLook(ctx, line, "", delay); err != nil {
		// The request is in the line but nothing may come to look at it:
		// fail, so that the retry (which finds it in the line) schedules.
		s.unlock(ctx, rec)
		return Result{}, err
	}
	if err := s.backInLine(ctx, rec); err != nil {
		return Result{}, err
	}
	s.log.InfoContext(ctx, "the request waits in line",
		"reason", why.Error(), "position", line.Position(r.id)+1, "status", rec.Status)
	return resultOf(rec), nil
}

// look works through an environment's line until it is empty or its head
// has to wait. self is the wake-up chain being handled: the line's chain
// goes on with the next wake-up it schedules, and ends only on an empty
// line.
func (s *Submitter) look(ctx context.Context, appID, env, self string) error {
	line, err := s.store.Line(ctx, appID, env)
	if err != nil {
		return err
	}
	// Each round removes the head or stops; the bound only guards against
	// a line that keeps refilling.
	for range s.cfg.MaxLine + 2 {
		if len(line.Entries) == 0 {
			if _, err := s.settleStarts(ctx, line, "", true); err != nil {
				return err
			}
			return s.endChain(ctx, line, self)
		}
		moved, err := s.tryHead(ctx, line, self)
		if err != nil || !moved {
			return err
		}
		if line, err = s.store.Line(ctx, appID, env); err != nil {
			return err
		}
	}
	return s.scheduleLook(ctx, line, self, s.cfg.WaitRetryDelay)
}

// endChain ends the line's chain of wake-ups when it is self's and the
// line is empty; a line refilled meanwhile gets its next look.
func (s *Submitter) endChain(ctx context.Context, line *state.Line, self string) error {
	refilled := false
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		refilled = len(l.Entries) > 0
		if l.WakeID != self || refilled {
			return false, nil
		}
		l.WakeID, l.WakeAt = "", 0
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("end the wake-ups of app %s environment %s: %w", line.AppID, line.BackendEnvironmentName, err)
	}
	if refilled {
		return s.scheduleLook(ctx, line, self, s.cfg.WaitRetryDelay)
	}
	s.log.DebugContext(ctx, "the line is empty")
	return nil
}

// scheduleLook makes sure a wake-up will look at the line after delay: it
// sends one unless another chain's is scheduled and not overdue, then
// notes it on the line in place of self — the line's wake-up is replaced,
// never cleared, while requests wait.
func (s *Submitter) scheduleLook(ctx context.Context, line *state.Line, self string, delay time.Duration) error {
	now := s.now()
	if line.WakeID != self && line.WakePending(now) {
		s.log.DebugContext(ctx, "a wake-up is already scheduled", "wakeId", line.WakeID)
		return nil
	}
	chain := newID()
	w := contract.NewWakeup(line.AppID, line.BackendEnvironmentName)
	w.Chain = chain
	if err := s.send(ctx, s.cfg.WaitingQueueURL, w, delay); err != nil {
		return fmt.Errorf("send a wake-up for app %s environment %s: %w", line.AppID, line.BackendEnvironmentName, err)
	}
	s.log.DebugContext(ctx, "wake-up scheduled", "wakeId", chain, "delaySeconds", int(delay/time.Second))
	s.noteWakeup(ctx, line, self, chain, now.Add(delay))
	return nil
}

// noteWakeup notes chain, due at the given time, as the line's wake-up in
// place of self (or of none, or of an overdue one). Noting only spares
// others from sending more: a failure costs an extra wake-up, not a lost
// one.
func (s *Submitter) noteWakeup(ctx context.Context, line *state.Line, self, chain string, due time.Time) {
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		if l.WakeID != "" && l.WakeID != self && l.WakeID != chain && l.WakePending(s.now()) {
			return false, nil // another one was scheduled meanwhile: two chains, which merge at their next look
		}
		l.WakeID, l.WakeAt = chain, due.UnixMilli()
		return true, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not note the scheduled wake-up", "error", err.Error())
	}
}

// tryHead deals with the head of the line. moved reports that the head
// left the line (started, timed out, failed) so the next can be tried.
func (s *Submitter) tryHead(ctx context.Context, line *state.Line, self string) (moved bool, err error) {
	head := line.Entries[0]
	ctx = logging.With(ctx, slog.String("jobRequestId", head.RequestID), slog.String("operation", head.Request.Operation))
	rec, err := s.lockHead(ctx, line, head)
	if err != nil {
		return false, err
	}
	if rec == nil { // someone else holds it: look again later
		return false, s.scheduleLook(ctx, line, self, s.cfg.WaitRetryDelay)
	}
	switch rec.State {
	case state.Failed, state.TimedOut:
		return true, s.removeHead(ctx, line, head.RequestID)
	case state.Started:
		if !rec.Tracked { // started before, but the tracking message was not sent
			if err := s.track(ctx, rec); err != nil {
				return false, err
			}
		}
		s.dropStart(ctx, &attempt{rec: rec, line: line})
		return true, s.removeHead(ctx, line, head.RequestID)
	}
	a := &attempt{rec: rec, line: line, head: true}
	if now := s.now(); now.After(head.Deadline) {
		// Past its deadline, a request may still find the job of an
		// unanswered call, but starts none.
		return s.headOutcome(ctx, a, head, self, fmt.Sprintf("waited %s for app %s environment %s to be free; its wait deadline passed",
			now.Sub(head.ArrivedAt).Round(time.Second), line.AppID, line.BackendEnvironmentName))
	}
	op, err := amplify.LookupOperation(head.Request.Operation)
	if err == nil {
		a.op = op
		a.input, err = op.DecodeInput([]byte(head.Request.Input))
	}
	if err != nil { // it was valid when it joined; only another version could refuse it
		return true, s.giveUp(ctx, a, head, contract.StatusFailed, err.Error(), err.Error())
	}
	return s.headOutcome(ctx, a, head, self, "")
}

// headOutcome tries to start the head of the line, whose record this
// invocation holds, and acts on the outcome. late, when set, says the
// head is past its wait deadline: if no job of it is found, it times out.
func (s *Submitter) headOutcome(ctx context.Context, a *attempt, head state.LineEntry, self, late string) (moved bool, err error) {
	o := outcome{step: notFound}
	if a.input != nil || a.rec.Unanswered {
		if o, err = s.start(ctx, a); err != nil {
			s.unlock(ctx, a.rec)
			return false, err
		}
	}
	switch o.step {
	case started:
		return true, s.removeHead(ctx, a.line, head.RequestID)
	case notFound:
		s.dropStart(ctx, a)
		return true, s.giveUp(ctx, a, head, contract.StatusTimedOut, "", late)
	case refused:
		msg := refusal(o.cause)
		return true, s.giveUp(ctx, a, head, contract.StatusFailed, msg, a.op.Name+" was refused by the service: "+msg)
	}
	if err := s.backInLine(ctx, a.rec); err != nil {
		return false, err
	}
	if o.step == putOff {
		return false, &putOffError{err: o.cause}
	}
	s.log.DebugContext(ctx, "the head of the line waits", "reason", o.cause.Error())
	return false, s.scheduleLook(ctx, a.line, self, s.cfg.WaitRetryDelay)
}

// lockHead takes the record of the line's head for this invocation. It
// returns nil when another invocation holds it. A record with nothing
// left to do is returned without a lease: the head only has to leave the
// line.
func (s *Submitter) lockHead(ctx context.Context, line *state.Line, head state.LineEntry) (*state.Request, error) {
	rec, err := s.store.Request(ctx, head.RequestID)
	if err != nil {
		return nil, err
	}
	// The record expired or was never written: rebuild it from the entry.
	rebuilt := state.NewRequest(head.RequestID)
	rebuilt.Operation, rebuilt.AppID, rebuilt.BackendEnvironmentName = head.Request.Operation, line.AppID, line.BackendEnvironmentName
	rebuilt.State, rebuilt.Status, rebuilt.ArrivedAt, rebuilt.ExpiresAt = state.Waiting, StatusWaiting, head.ArrivedAt, s.expiry(s.now())
	var in struct{ TargetEnvironmentName string }
	_ = json.Unmarshal([]byte(head.Request.Input), &in) // it was valid when it joined
	rebuilt.TargetEnvironmentName = in.TargetEnvironmentName
	if rec == nil {
		rec = state.NewRequest(head.RequestID)
	}
	return s.lease(ctx, rec, rebuilt)
}

// giveUp ends a waiting request without a job: it sends a status change
// (TIMED_OUT or FAILED) to the completions queue, records it and removes
// the request from the line.
func (s *Submitter) giveUp(ctx context.Context, a *attempt, head state.LineEntry, status, errText, logText string) error {
	now := s.now().UTC()
	errText = cmp.Or(errText, logText)
	change := contract.NewStatusChange(contract.Ending{
		AppID: a.line.AppID, BackendEnvironmentName: a.line.BackendEnvironmentName, Operation: head.Request.Operation,
		RequestID: head.RequestID, Status: status, PreviousStatus: StatusWaiting, Error: errText, SubmittedAt: head.ArrivedAt,
	}, now)
	if err := s.send(ctx, s.cfg.CompletionsQueueURL, change, 0); err != nil {
		s.unlock(ctx, a.rec)
		return fmt.Errorf("send the %s status change: %w", status, err)
	}
	end := state.Failed
	if status == contract.StatusTimedOut {
		end = state.TimedOut
	}
	body, _ := json.Marshal(change) // plain struct: cannot fail
	if err := s.update(ctx, a.rec, func(x *state.Request) error {
		x.Status, x.Error, x.Unanswered, x.Change = status, change.Error, false, string(body)
		x.Unlease()
		return x.To(end)
	}); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "waiting request ended without a job", "status", status, "reason", logText,
		"waitedSeconds", int(change.DurationSeconds))
	s.dropStart(ctx, a)
	return s.removeHead(ctx, a.line, head.RequestID)
}

// removeHead takes requestID off the front of the line, unless it is no
// longer there (another wake-up removed it).
func (s *Submitter) removeHead(ctx context.Context, line *state.Line, requestID string) error {
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		if len(l.Entries) == 0 || l.Entries[0].RequestID != requestID {
			return false, nil
		}
		l.Entries = l.Entries[1:]
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("remove %s from the line of app %s environment %s: %w", requestID, line.AppID, line.BackendEnvironmentName, err)
	}
	s.metrics.Add(metrics.JobsWaiting, float64(len(line.Entries)), nil)
	return nil
}
