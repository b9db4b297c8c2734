package submit

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// wakeMargin is the time an invocation keeps back from its deadline: with
// less left, Wake takes no more work and hands the rest back.
const wakeMargin = 10 * time.Second

// Wake handles a batch of wake-ups and returns the ids of the messages to
// deliver again. Each wake-up looks at its environment's line: it drops
// requests past their deadline (TIMED_OUT), submits the head when the
// environment is free and goes on with the next, and schedules the line's
// next wake-up while the environment is busy.
//
// A wake-up whose work fails for a while (the Admin API throttling or
// unavailable, DynamoDB or SQS failing) is answered by a fresh copy, sent
// after a backoff that grows with its attempt, and the original is done:
// an outage costs time, not receives, and the receive count is left for
// poison. Only a malformed wake-up, or one whose copy could not be sent,
// is delivered again (and after the queue's maxReceiveCount, parked in
// its dead-letter queue). With less than wakeMargin left before the
// invocation's deadline, the remaining wake-ups are handed back untried,
// as fresh copies.
func (s *Submitter) Wake(ctx context.Context, msgs []queue.Message) (failedIDs []string) {
	for i, m := range msgs {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wakeMargin {
			return append(failedIDs, s.handBack(ctx, msgs[i:])...)
		}
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
	self := cmp.Or(w.Chain, m.ID) // a wake-up of an earlier version is noted by its message id
	err = s.look(ctx, w.AppID, w.BackendEnvironmentName, self)
	if err == nil {
		return nil
	}
	return s.putOffWakeup(ctx, m, w, self, err)
}

// putOffWakeup answers a wake-up whose work failed (cause) with a copy
// sent after a backoff, which goes on as the line's chain — unless another
// chain looks after the line. It fails only when the copy could not be
// sent: then the original is delivered again.
func (s *Submitter) putOffWakeup(ctx context.Context, m queue.Message, w contract.Wakeup, self string, cause error) error {
	now := s.now()
	line, lerr := s.store.Line(ctx, w.AppID, w.BackendEnvironmentName)
	if lerr == nil && line.WakeID != self && line.WakePending(now) {
		s.log.InfoContext(ctx, "wake-up failed; the line's own wake-up will look again", "error", cause.Error())
		return nil
	}
	attempt := m.Attempt + 1
	delay := s.backoff(attempt)
	w.Chain = cmp.Or(w.Chain, newID())
	out, err := queue.JSON(w, delay)
	if err != nil {
		return err
	}
	out.Attempt = attempt
	if _, errs := s.sqs.Send(ctx, s.cfg.WaitingQueueURL, []queue.Outgoing{out}); errs[0] != nil {
		s.log.ErrorContext(ctx, "wake-up failed and could not be put off; it will be delivered again",
			"error", cause.Error(), "sendError", errs[0].Error())
		return errs[0]
	}
	if lerr == nil {
		s.noteWakeup(ctx, line, self, w.Chain, now.Add(delay))
	}
	reason := reasonOf(cause)
	s.putOff(ctx, reason)
	s.log.WarnContext(ctx, "wake-up failed; put off", "error", cause.Error(), "reason", reason,
		"attempt", attempt, "delaySeconds", int(delay.Round(time.Second)/time.Second))
	return nil
}

// handBack sends msgs again untried, as they came (same body and attempt,
// no delay), for an invocation with time left to take them; it returns
// the ids of those it could not send, for the queue to deliver again.
func (s *Submitter) handBack(ctx context.Context, msgs []queue.Message) (failedIDs []string) {
	out := make([]queue.Outgoing, len(msgs))
	for i, m := range msgs {
		out[i] = queue.Outgoing{Body: m.Body, Attempt: m.Attempt}
	}
	_, errs := s.sqs.Send(ctx, s.cfg.WaitingQueueURL, out)
	for i, err := range errs {
		if err != nil {
			failedIDs = append(failedIDs, msgs[i].ID)
		}
	}
	s.putOff(ctx, reasonDeadline)
	s.log.WarnContext(ctx, "too little time left in the invocation; wake-ups handed back untried",
		"handedBack", len(msgs)-len(failedIDs), "deliveredAgain", len(failedIDs))
	return failedIDs
}
