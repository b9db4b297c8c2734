package poll

import (
	"context"
	"errors"

	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// followChains keeps one tracking chain per job (see internal/state's
// chain): before any lookup it drops the messages of jobs recorded as
// ended, stale steps (duplicates and forks) and second messages of one
// job in the batch, and adopts steps ahead of the record. Jobs without a
// record are followed as their messages say. When the chains cannot be
// read for the time being, the messages are put off (delayed copies).
func (p *Poller) followChains(ctx context.Context, items []*item) {
	if p.cfg.Tracked == nil {
		return
	}
	var keys []state.JobKey
	for _, it := range items {
		if it.out == pending || it.out == requeued {
			keys = append(keys, state.JobKeyOf(it.m))
		}
	}
	if len(keys) == 0 {
		return
	}
	chains, err := p.cfg.Tracked.Chains(ctx, keys)
	if err != nil {
		p.chainsUnread(ctx, items, err)
		return
	}
	taken := map[state.JobKey]bool{}
	for _, it := range items {
		if it.out != pending && it.out != requeued {
			continue
		}
		k := state.JobKeyOf(it.m)
		c, ok := chains[k]
		if !ok {
			continue
		}
		it.tracked = true
		place := c.Place(state.StepOf(it.m))
		switch {
		case c.Ended:
			p.drop(it, "job already seen to end; dropping its tracking message")
		case place == state.Stale:
			p.drop(it, "a duplicate or stale fork of the job's tracking chain; dropping it")
		case taken[k]:
			p.drop(it, "another message of the job in this batch follows it on; dropping this one")
		case place == state.Ahead:
			p.adopt(ctx, it, c.Step)
		}
		taken[k] = taken[k] || it.out != dropped
	}
}

// chainsUnread decides on a batch whose chains could not be read: a
// transient failure puts every message off; any other goes on without
// the chains (today's behaviour without a state table).
func (p *Poller) chainsUnread(ctx context.Context, items []*item, err error) {
	if !queue.Transient(err) {
		p.cfg.Logger.ErrorContext(ctx, "could not read the jobs' tracking chains; following the messages without them", "error", err.Error())
		return
	}
	p.cfg.Logger.WarnContext(ctx, "could not read the jobs' tracking chains; delayed copies of the messages will try again", "error", err.Error())
	for _, it := range items {
		if it.out == pending || it.out == requeued {
			it.out, it.why, it.requeue = retried, queue.Cause(err), nil
		}
	}
}

func (p *Poller) drop(it *item, why string) {
	it.out, it.due, it.requeue = dropped, false, nil
	p.cfg.Logger.InfoContext(it.ctx, why, "seq", it.m.Seq)
}

// adopt moves the job's record to the message's step, ahead of it: its
// sender sent it but could not advance the record (a crash, a failed
// write). When another message moved the record first, this one is a
// fork.
func (p *Poller) adopt(ctx context.Context, it *item, at state.Step) {
	err := p.cfg.Tracked.AdvanceChain(ctx, state.JobKeyOf(it.m), at, state.StepOf(it.m), nil)
	switch {
	case err == nil:
		p.cfg.Logger.InfoContext(it.ctx, "adopted a later step of the job's tracking chain", "seq", it.m.Seq, "recordSeq", at.Seq)
	case errors.Is(err, state.ErrChainMoved):
		p.drop(it, "a fork of the job's tracking chain (another message moved it first); dropping it")
	case errors.Is(err, state.ErrNotTracked):
		it.tracked = false
	case queue.Transient(err):
		it.out, it.why, it.requeue = retried, queue.Cause(err), nil
		p.cfg.Logger.WarnContext(it.ctx, "could not adopt the message's step; a delayed copy will try again", "error", err.Error())
	default:
		p.cfg.Logger.ErrorContext(it.ctx, "could not adopt the message's step; following the job on", "error", err.Error())
	}
}

// advanceChains moves the record of each job whose next message went out
// to that message's step. It comes after the send, so that a crash
// between the two leaves the record behind (the next message is adopted
// when it comes), never ahead of every message. A failure is logged: the
// next message is ahead and adopted, or, if another message moved the
// chain first, a fork that is dropped when it comes.
func (p *Poller) advanceChains(items []*item) {
	now := p.cfg.Now().UTC()
	for _, it := range items {
		if it.out != requeued || !it.tracked {
			continue
		}
		var seen *state.Lookup
		if it.due { // looked up, found running
			seen = &state.Lookup{At: now, Status: it.m.LastStatus, Polls: it.m.Polls}
		}
		err := p.cfg.Tracked.AdvanceChain(it.ctx, state.JobKeyOf(it.m), state.StepOf(it.m), it.next, seen)
		switch {
		case errors.Is(err, state.ErrChainMoved):
			p.cfg.Logger.InfoContext(it.ctx, "another message moved the job's tracking chain first; the one sent will be dropped", "error", err.Error())
		case err != nil:
			p.cfg.Logger.WarnContext(it.ctx, "could not advance the job's tracking chain; its next message will be adopted", "error", err.Error())
		}
	}
}
