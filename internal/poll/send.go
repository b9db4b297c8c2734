package poll

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// send delivers what the batch decided, status changes first: the
// completions queue gets the changes and the STILL_RUNNING notices, the
// jobs queue the next messages and the copies, the dead-letter queue the
// poison. An item whose message was not sent fails: its tracking message
// is redelivered and the work redone rather than lost. A notice that was
// not sent does not fail its item, whose next message then still owes
// it: the original deleted and its next message sent, one chain goes on.
func (p *Poller) send(ctx context.Context, items []*item, now time.Time) {
	var changes, onward, poison []*item
	for _, it := range items {
		switch {
		case it.out == completed || (it.out == requeued && it.notice != nil):
			changes = append(changes, it)
		case it.out == parked:
			poison = append(poison, it)
		}
		if it.out == requeued || it.out == retried || it.out == handedBack {
			onward = append(onward, it)
		}
	}
	for _, it := range p.sendItems(ctx, p.cfg.CompletionsQueueURL, changes, func(it *item) (queue.Outgoing, error) {
		if it.change != nil {
			return queue.JSON(it.change, 0)
		}
		return queue.JSON(it.notice, 0)
	}) {
		if it.out == completed {
			it.out = failed
			continue
		}
		p.cfg.Logger.WarnContext(it.ctx, "STILL_RUNNING not sent; the next lookup sends it")
		it.notice, it.m.StillRunningSent = nil, false
	}
	for _, it := range p.sendItems(ctx, p.cfg.JobsQueueURL, onward, func(it *item) (queue.Outgoing, error) { return p.onward(it, now) }) {
		it.out = failed
	}
	p.park(ctx, poison)
	p.logSent(items, now)
}

// onward is the message that replaces it on the jobs queue: the job's
// next message (the chain's next step, delayed as decided, chained past
// SQS's 900 s with NotBefore), or a copy of it.
func (p *Poller) onward(it *item, now time.Time) (queue.Outgoing, error) {
	switch it.out {
	case retried:
		// A backoff never carries a lookup past the job's deadline: the
		// copy comes back by then, for the verdict (TIMED_OUT or the
		// job's own end) on time when the Admin API is back.
		out := p.cfg.Retry.Later(it.msg)
		if left := it.m.Deadline.Sub(now).Round(time.Second); left > 0 && left < out.Delay {
			out.Delay = left
		}
		return out, nil
	case handedBack:
		return queue.Again(it.msg), nil
	}
	delay := it.requeue.Sub(now)
	m := it.m
	m.NotBefore = nil
	if delay > queue.MaxDelay {
		at := *it.requeue
		m.NotBefore = &at
		delay = queue.MaxDelay
	}
	if p.cfg.Tracked != nil {
		m.Seq, m.SeqID = m.Seq+1, strconv.FormatUint(rand.Uint64(), 36)
		it.next = state.StepOf(m)
	}
	return queue.JSON(m, delay)
}

// park sends poison to the dead-letter queue, the problem named; with no
// dead-letter queue, or when it does not take a message, the message is
// left on its queue to reach it after maxReceiveCount receives.
func (p *Poller) park(ctx context.Context, poison []*item) {
	if p.cfg.DeadLetterQueueURL == "" {
		for _, it := range poison {
			it.out = failed
		}
		return
	}
	for _, it := range p.sendItems(ctx, p.cfg.DeadLetterQueueURL, poison, func(it *item) (queue.Outgoing, error) {
		return queue.Parked(it.msg, it.why), nil
	}) {
		it.out = failed
	}
}

// sendItems sends one message per item to queueURL and returns the items
// whose message was not sent.
func (p *Poller) sendItems(ctx context.Context, queueURL string, items []*item, message func(*item) (queue.Outgoing, error)) (unsent []*item) {
	var msgs []queue.Outgoing
	var sent []*item
	for _, it := range items {
		m, err := message(it)
		if err != nil {
			p.cfg.Logger.ErrorContext(it.ctx, "encode message", "error", err.Error())
			unsent = append(unsent, it)
			continue
		}
		msgs, sent = append(msgs, m), append(sent, it)
	}
	if len(msgs) == 0 {
		return unsent
	}
	_, errs := p.sender.Send(ctx, queueURL, msgs)
	for i, err := range errs {
		if err != nil {
			p.cfg.Logger.ErrorContext(sent[i].ctx, "message not sent; the tracking message will be redelivered",
				"queueUrl", queueURL, "error", err.Error())
			unsent = append(unsent, sent[i])
		}
	}
	return unsent
}

// logSent logs the warnings and ends that went out.
func (p *Poller) logSent(items []*item, now time.Time) {
	for _, it := range items {
		switch {
		case it.out == requeued && it.notice != nil:
			p.cfg.Logger.WarnContext(it.ctx, "job still running", "runningFor", now.Sub(mustStart(it.m)).Round(time.Second).String())
		case it.out == completed:
			p.cfg.Logger.InfoContext(it.ctx, "job ended", "status", it.change.Status, "polls", it.change.Polls,
				"durationSeconds", it.change.DurationSeconds)
		}
	}
}
