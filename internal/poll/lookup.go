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

// callContext bounds the Admin API calls: a call still running half the
// margin before the deadline (a quarter of the time left, if less) is cut
// short, a transient failure, leaving time to send what follows.
func (p *Poller) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline.Add(-min(p.cfg.Margin/2, time.Until(deadline)/4)))
}

// lookUp fills in each pending due item's job state while the
// invocation has more than the margin left; the items it does not take
// then are handed back, not attempted (the first call is always made, so
// that every batch gets on however short the function's timeout). Where
// a batch holds several jobs of one environment, one ListBackendJobs call
// answers for all of them; a job it does not list is looked up on its
// own.
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
	callCtx, cancel := p.callContext(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		calls int
		wg    sync.WaitGroup
		sem   = make(chan struct{}, p.cfg.Lookups)
	)
	// take reports whether to make one more call, and counts it.
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if calls > 0 && p.short(ctx) {
			return false
		}
		calls++
		return true
	}
	lookGroup := func(key [2]string, group []*item) {
		rest := group
		if len(group) > 1 && take() {
			rest = p.listGroup(callCtx, key, group)
		}
		for _, it := range rest {
			if !take() {
				it.out = handedBack
				continue
			}
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
