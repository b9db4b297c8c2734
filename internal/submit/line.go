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
)

// Message is one message of the waiting queue: its SQS message id and
// body (a contract.Wakeup).
type Message struct {
	ID   string
	Body string
}

// Wake handles a batch of wake-ups and returns the ids of the messages to
// deliver again: malformed ones, and those whose work failed (throttling,
// a 5xx, SQS or DynamoDB unavailable). Each wake-up looks at its
// environment's line: it drops requests past their deadline (TIMED_OUT),
// submits the head when the environment is free and goes on with the next,
// and schedules another wake-up while the environment is busy.
func (s *Submitter) Wake(ctx context.Context, msgs []Message) (failedIDs []string) {
	for _, m := range msgs {
		if err := s.wake(ctx, m); err != nil {
			failedIDs = append(failedIDs, m.ID)
		}
	}
	return failedIDs
}

func (s *Submitter) wake(ctx context.Context, m Message) error {
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
	line, err := s.state.getLine(ctx, appID, env)
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
		if line, err = s.state.getLine(ctx, appID, env); err != nil {
			return err
		}
	}
	return s.scheduleLook(ctx, line, self)
}

// consumeWakeup forgets the scheduled wake-up when it is the one being
// handled, so that whoever next needs a later look schedules one.
func (s *Submitter) consumeWakeup(ctx context.Context, line *lineItem, self string) error {
	for attempt := range maxAttempts {
		if line.WakeID == "" || line.WakeID != self {
			return nil
		}
		line.WakeID, line.WakeAt = "", 0
		err := s.state.putLine(ctx, line, s.now())
		if !errors.Is(err, errConflict) {
			return err
		}
		pause(ctx, attempt)
		fresh, err := s.state.getLine(ctx, line.AppID, line.BackendEnvironmentName)
		if err != nil {
			return err
		}
		*line = *fresh
	}
	return fmt.Errorf("clear the wake-up of %s: %w", line.PK, errConflict)
}

// scheduleLook makes sure a wake-up will look at the line later: it sends
// one unless another is already scheduled and not overdue.
func (s *Submitter) scheduleLook(ctx context.Context, line *lineItem, self string) error {
	now := s.now()
	if line.WakeID != "" && line.WakeID != self && now.Before(time.UnixMilli(line.WakeAt).Add(wakeGrace)) {
		s.log.DebugContext(ctx, "a wake-up is already scheduled", "wakeId", line.WakeID)
		return nil
	}
	id, err := s.sendID(ctx, s.cfg.WaitingQueueURL, contract.Wakeup{Version: contract.WakeupVersion,
		AppID: line.AppID, BackendEnvironmentName: line.BackendEnvironmentName}, s.cfg.WaitRetryDelay)
	if err != nil {
		return fmt.Errorf("send a wake-up for app %s environment %s: %w", line.AppID, line.BackendEnvironmentName, err)
	}
	s.log.DebugContext(ctx, "wake-up scheduled", "wakeId", id, "delaySeconds", int(s.cfg.WaitRetryDelay/time.Second))
	// Noting the wake-up only spares others from sending more: a failure
	// here costs an extra wake-up, not a lost one.
	seen := line.WakeID
	for attempt := range maxAttempts {
		line.WakeID, line.WakeAt = id, now.Add(s.cfg.WaitRetryDelay).UnixMilli()
		err := s.state.putLine(ctx, line, now)
		if err == nil || !errors.Is(err, errConflict) {
			if err != nil {
				s.log.WarnContext(ctx, "could not note the scheduled wake-up", "error", err.Error())
			}
			return nil
		}
		pause(ctx, attempt)
		fresh, err := s.state.getLine(ctx, line.AppID, line.BackendEnvironmentName)
		if err != nil {
			s.log.WarnContext(ctx, "could not note the scheduled wake-up", "error", err.Error())
			return nil
		}
		*line = *fresh
		if line.WakeID != "" && line.WakeID != seen {
			return nil // another one was scheduled meanwhile: two chains, which merge at their next look
		}
	}
	return nil
}

// tryHead deals with the head of the line. moved reports that the head
// left the line (submitted, timed out, failed) so the next can be tried.
func (s *Submitter) tryHead(ctx context.Context, line *lineItem, self string) (moved bool, err error) {
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
	case stateFailed, stateTimedOut:
		return true, s.removeHead(ctx, line, head.RequestID)
	case stateSubmitted:
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
	out, err := s.call(ctx, op, in)
	switch {
	case err == nil:
		if err := s.started(ctx, rec, out); err != nil {
			return false, err
		}
		return true, s.removeHead(ctx, line, head.RequestID)
	case isBusy(err):
		s.log.DebugContext(ctx, "environment still busy")
		token := rec.LockToken
		if err := s.update(ctx, rec, func(x *requestRecord) {
			if x.State == stateNew { // it joined, but its invocation ended before saying so
				x.State, x.Status = stateWaiting, StatusWaiting
			}
			if x.LockToken == token {
				x.unlock()
			}
		}); err != nil {
			return false, err
		}
		return false, s.scheduleLook(ctx, line, self)
	case retryable(err):
		s.unlock(ctx, rec)
		return false, &CallError{RequestID: head.RequestID, Operation: op.Name, AppID: line.AppID,
			BackendEnvironmentName: line.BackendEnvironmentName, Err: err}
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
// returns nil when another invocation holds it. A record in a final state
// is returned without a lock: the head only has to leave the line.
func (s *Submitter) lockHead(ctx context.Context, line *lineItem, head lineEntry) (*requestRecord, error) {
	token := newID()
	for attempt := range maxAttempts {
		now := s.now()
		rec, err := s.state.getRequest(ctx, head.RequestID)
		if err != nil {
			return nil, err
		}
		if rec == nil { // the record expired or was never written: rebuild it from the entry
			rec = &requestRecord{PK: requestKey(head.RequestID), State: stateWaiting, Status: StatusWaiting,
				Operation: head.Request.Operation, AppID: line.AppID, BackendEnvironmentName: line.BackendEnvironmentName,
				ArrivedAt: head.ArrivedAt, ExpiresAt: s.expiry(now)}
		}
		switch {
		case rec.State == stateFailed, rec.State == stateTimedOut, rec.State == stateSubmitted && rec.Tracked:
			return rec, nil
		case rec.LockToken == token: // our write landed although it was reported lost
			return rec, nil
		case rec.lockedAt(now):
			s.log.DebugContext(ctx, "another invocation is submitting the head of the line")
			return nil, nil
		}
		rec.lock(token, s.leaseUntil(ctx))
		err = s.state.putRequest(ctx, rec)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, errConflict) {
			return nil, err
		}
		pause(ctx, attempt)
	}
	return nil, nil
}

// giveUp ends a waiting request without a job: it sends a status change
// (TIMED_OUT or FAILED) to the completions queue, records it and removes
// the request from the line.
func (s *Submitter) giveUp(ctx context.Context, line *lineItem, rec *requestRecord, head lineEntry, status, errText, logText string) error {
	now := s.now().UTC()
	change := contract.StatusChange{
		Version:                contract.StatusChangeVersion,
		AppID:                  line.AppID,
		BackendEnvironmentName: line.BackendEnvironmentName,
		Operation:              head.Request.Operation,
		Status:                 status,
		PreviousStatus:         StatusWaiting,
		Error:                  errText,
		SubmittedAt:            contract.Timestamp(head.ArrivedAt),
		DetectedAt:             contract.Timestamp(now),
		DurationSeconds:        now.Sub(head.ArrivedAt).Seconds(),
		RequestID:              head.RequestID,
		EventKey:               contract.EventKey(line.AppID, line.BackendEnvironmentName, "", head.RequestID, status),
	}
	if status == contract.StatusTimedOut && change.Error == "" {
		change.Error = logText
	}
	if err := s.send(ctx, s.cfg.CompletionsQueueURL, change, 0); err != nil {
		s.unlock(ctx, rec)
		return fmt.Errorf("send the %s status change: %w", status, err)
	}
	state := stateFailed
	if status == contract.StatusTimedOut {
		state = stateTimedOut
	}
	if err := s.update(ctx, rec, func(x *requestRecord) {
		x.State, x.Status, x.Error = state, status, change.Error
		x.unlock()
	}); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "waiting request ended without a job", "status", status, "reason", logText,
		"waitedSeconds", int(change.DurationSeconds))
	return s.removeHead(ctx, line, head.RequestID)
}

// removeHead takes requestID off the front of the line, unless it is no
// longer there (another wake-up removed it).
func (s *Submitter) removeHead(ctx context.Context, line *lineItem, requestID string) error {
	for attempt := range maxAttempts {
		if len(line.Entries) == 0 || line.Entries[0].RequestID != requestID {
			return nil
		}
		line.Entries = line.Entries[1:]
		err := s.state.putLine(ctx, line, s.now())
		if !errors.Is(err, errConflict) {
			return err
		}
		pause(ctx, attempt)
		fresh, err := s.state.getLine(ctx, line.AppID, line.BackendEnvironmentName)
		if err != nil {
			return err
		}
		*line = *fresh
	}
	return fmt.Errorf("remove %s from %s: %w", requestID, line.PK, errConflict)
}
