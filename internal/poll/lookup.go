package poll

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/logging"
)

// short reports whether the invocation has less than the margin left
// before its deadline: no more messages are taken.
func (p *Poller) short(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < p.cfg.Margin
}

// handBack gives back the pending items, not attempted: each is replaced
// by a copy of its message, so that no receive is spent on it.
func (p *Poller) handBack(items []*item) {
	for _, it := range items {
		if it.out == pending {
			it.out = handedBack
		}
	}
}

// lookUp fills in each pending due item's job state, as long as the
// invocation has time: the items it cannot take are handed back. Where a
// batch holds several jobs of one environment, one ListBackendJobs call
// answers for all of them; a job it does not list is looked up on its
// own. A call still running half the margin before the deadline is cut
// short (a transient failure), leaving time to send what follows.
func (p *Poller) lookUp(ctx context.Context, items []*item) int {
	groups := map[[2]string][]*item{}
	var order [][2]string
	for _, it := range items {
		if !it.due || it.out != pending {
			continue
		}
		key := [2]string{it.m.AppID, it.m.BackendEnvironmentName}
		if groups[key] == nil {
			order = append(order, key)
		}
		groups[key] = append(groups[key], it)
	}
	callCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithDeadline(ctx, deadline.Add(-p.cfg.Margin/2))
		defer cancel()
	}
	var (
		mu    sync.Mutex
		calls int
		wg    sync.WaitGroup
		sem   = make(chan struct{}, p.cfg.Lookups)
	)
	count := func() { mu.Lock(); calls++; mu.Unlock() }
	lookGroup := func(key [2]string, group []*item) {
		rest := group
		if len(group) > 1 && !p.short(ctx) {
			count()
			rest = p.listGroup(callCtx, key, group)
		}
		for _, it := range rest {
			if p.short(ctx) {
				it.out = handedBack
				continue
			}
			count()
			p.get(callCtx, it)
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

// get looks one job up, with ctx bounding the call.
func (p *Poller) get(ctx context.Context, it *item) {
	out, err := p.api.GetBackendJob(ctx, &amplify.GetBackendJobInput{
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
