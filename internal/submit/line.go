package submit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// Wake handles a batch of wake-ups and returns the ids of the messages to
// deliver again: malformed ones, and those whose work failed (throttling,
// a 5xx, SQS or DynamoDB unavailable). Each wake-up looks at its
// environment's line: it drops requests past their deadline (TIMED_OUT),
// submits the head when the environment is free and goes on with the next,
// and schedules another wake-up while the environment is busy.
func (s *Submitter) Wake(ctx context.Context, msgs []queue.Message) (failedIDs []string) {
	for _, m := range msgs {
		if err := s.wake(ctx, m); err != nil {
			failedIDs = append(failedIDs, m.ID)
		}
	}
	return failedIDs
}

func (s *Submitter) wake(ctx context.Context, m queue.Message) error {
	w, err := contract.DecodeWakeup([]byte(m.Body))
	if err != nil {
		s.log.ErrorContext(ctx, "malformed wake-up", "messageId", m.ID, "error", err.Error())
		return err
	}
	ctx = logging.With(ctx, append(logging.Job(w.AppID, w.BackendEnvironmentName, ""), slog.String("messageId", m.ID))...)
	if err := s.look(ctx, w.AppID, w.BackendEnvironmentName, m.ID); err != nil {
		s.log.ErrorContext(ctx, "wake-up failed; it will be delivered again", "error", err.Error())
		return err
	}
	return nil
}

// look works through an environment's line until it is empty or its head
// has to wait. self is the id of the wake-up being handled.
func (s *Submitter) look(ctx context.Context, appID, env, self string) error {
	line, err := s.store.Line(ctx, appID, env)
	if err != nil {
		return err
	}
	if err := s.consumeWakeup(ctx, line, self); err != nil {
		return err
	}
	// Each round removes the head or stops; the bound only guards against
	// a line that keeps refilling.
	for range s.cfg.MaxLine + 2 {
		if len(line.Entries) == 0 {
			s.log.DebugContext(ctx, "the line is empty")
			return nil
		}
		moved, err := s.tryHead(ctx, line, self)
		if err != nil || !moved {
			return err
		}
		if line, err = s.store.Line(ctx, appID, env); err != nil {
			return err
		}
	}
	return s.scheduleLook(ctx, line, self)
}

// consumeWakeup forgets the scheduled wake-up when it is the one being
// handled, so that whoever next needs a later look schedules one.
func (s *Submitter) consumeWakeup(ctx context.Context, line *state.Line, self string) error {
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		if l.WakeID == "" || l.WakeID != self {
			return false, nil
		}
		l.WakeID, l.WakeAt = "", 0
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("clear the wake-up of app %s environment %s: %w", line.AppID, line.BackendEnvironmentName, err)
	}
	return nil
}

// scheduleLook makes sure a wake-up will look at the line later: it sends
// one unless another is already scheduled and not overdue.
func (s *Submitter) scheduleLook(ctx context.Context, line *state.Line, self string) error {
	now := s.now()
	if line.WakeID != "" && line.WakeID != self && now.Before(time.UnixMilli(line.WakeAt).Add(wakeGrace)) {
		s.log.DebugContext(ctx, "a wake-up is already scheduled", "wakeId", line.WakeID)
		return nil
	}
	id, err := s.sqs.SendJSON(ctx, s.cfg.WaitingQueueURL, contract.NewWakeup(line.AppID, line.BackendEnvironmentName), s.cfg.WaitRetryDelay)
	if err != nil {
		return fmt.Errorf("send a wake-up for app %s environment %s: %w", line.AppID, line.BackendEnvironmentName, err)
	}
	s.log.DebugContext(ctx, "wake-up scheduled", "wakeId", id, "delaySeconds", int(s.cfg.WaitRetryDelay/time.Second))
	// Noting the wake-up only spares others from sending more: a failure
	// here costs an extra wake-up, not a lost one.
	seen := line.WakeID
	err = s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		if l.WakeID != "" && l.WakeID != seen {
			return false, nil // another one was scheduled meanwhile: two chains, which merge at their next look
		}
		l.WakeID, l.WakeAt = id, now.Add(s.cfg.WaitRetryDelay).UnixMilli()
		return true, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not note the scheduled wake-up", "error", err.Error())
	}
	return nil
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
		return false, s.scheduleLook(ctx, line, self)
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
		return true, s.removeHead(ctx, line, head.RequestID)
	}

	now := s.now()
	if now.After(head.Deadline) {
		return true, s.giveUp(ctx, line, rec, head, contract.StatusTimedOut, "", fmt.Sprintf(
			"waited %s for app %s environment %s to be free; its wait deadline passed",
			now.Sub(head.ArrivedAt).Round(time.Second), line.AppID, line.BackendEnvironmentName))
	}
	op, err := amplify.LookupOperation(head.Request.Operation)
	var in any
	if err == nil {
		in, err = op.DecodeInput([]byte(head.Request.Input))
	}
	if err != nil { // it was valid when it joined; only another version could refuse it
		return true, s.giveUp(ctx, line, rec, head, contract.StatusFailed, err.Error(), err.Error())
	}
	return s.startHead(ctx, line, rec, head, op, in, self)
}

// startHead starts the job of the line's head, whose record this
// invocation holds.
func (s *Submitter) startHead(ctx context.Context, line *state.Line, rec *state.Request, head state.LineEntry,
	op *amplify.Operation, in any, self string) (moved bool, err error) {
	out, err := s.start(ctx, rec, op, in)
	var callErr *CallError
	switch {
	case err == nil:
		if err := s.started(ctx, rec, out); err != nil {
			return false, err
		}
		return true, s.removeHead(ctx, line, head.RequestID)
	case !errors.As(err, &callErr): // recording that it is starting failed
		s.unlock(ctx, rec)
		return false, err
	case isBusy(err):
		s.log.DebugContext(ctx, "environment still busy")
		if err := s.backInLine(ctx, rec); err != nil {
			return false, err
		}
		return false, s.scheduleLook(ctx, line, self)
	case callErr.Retryable():
		if berr := s.backInLine(ctx, rec); berr != nil {
			s.log.WarnContext(ctx, "could not release the request's lease", "error", berr.Error())
		}
		return false, err
	default: // the service refuses the request itself: it would never pass
		msg := err.Error()
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			msg = apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
		}
		return true, s.giveUp(ctx, line, rec, head, contract.StatusFailed, msg,
			op.Name+" was refused by the service: "+msg)
	}
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
	if rec == nil {
		rec = state.NewRequest(head.RequestID)
	}
	token, until := newID(), s.leaseUntil(ctx)
	held := true
	err = s.store.EditRequest(ctx, rec, func(x *state.Request) (bool, error) {
		held = true
		switch {
		case !x.Exists():
			*x = *rebuilt
		case x.Done(), x.LockToken == token: // nothing left to do, or our write landed although it was reported lost
			return false, nil
		case x.Leased(s.now()):
			held = false
			return false, nil
		}
		x.Lease(token, until)
		return true, nil
	})
	switch {
	case errors.Is(err, state.ErrConflict):
		return nil, nil
	case err != nil:
		return nil, err
	case !held:
		s.log.DebugContext(ctx, "another invocation is submitting the head of the line")
		return nil, nil
	}
	return rec, nil
}

// giveUp ends a waiting request without a job: it sends a status change
// (TIMED_OUT or FAILED) to the completions queue, records it and removes
// the request from the line.
func (s *Submitter) giveUp(ctx context.Context, line *state.Line, rec *state.Request, head state.LineEntry, status, errText, logText string) error {
	now := s.now().UTC()
	if status == contract.StatusTimedOut && errText == "" {
		errText = logText
	}
	change := contract.NewStatusChange(contract.Ending{
		AppID: line.AppID, BackendEnvironmentName: line.BackendEnvironmentName, Operation: head.Request.Operation,
		RequestID: head.RequestID, Status: status, PreviousStatus: StatusWaiting, Error: errText, SubmittedAt: head.ArrivedAt,
	}, now)
	if err := s.send(ctx, s.cfg.CompletionsQueueURL, change, 0); err != nil {
		s.unlock(ctx, rec)
		return fmt.Errorf("send the %s status change: %w", status, err)
	}
	end := state.Failed
	if status == contract.StatusTimedOut {
		end = state.TimedOut
	}
	if err := s.update(ctx, rec, func(x *state.Request) error {
		x.Status, x.Error = status, change.Error
		x.Unlease()
		return x.To(end)
	}); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "waiting request ended without a job", "status", status, "reason", logText,
		"waitedSeconds", int(change.DurationSeconds))
	return s.removeHead(ctx, line, head.RequestID)
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
	return nil
}
