package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// StartOptions say how to run a stack's functions.
type StartOptions struct {
	// BuildDir receives the bootstraps and the Runtime Interface Emulator.
	BuildDir string
	// Logs receives every function's output, each line prefixed with the
	// function's logical id; nil discards it.
	Logs io.Writer
	// RetryDelay is the wait between the attempts of an asynchronous
	// invocation (Lambda waits a minute, then two; default 1s locally).
	RetryDelay time.Duration
	// ScheduleEvery, when set, replaces the period of every Schedule event
	// (minutes when deployed; seconds in a local run).
	ScheduleEvery time.Duration
	// AsyncConcurrency is how many asynchronous invocations of one rule
	// run at once (Lambda runs them side by side; default 4).
	AsyncConcurrency int
	// Invoker, when set, stands between an event source and a function's
	// pool of execution environments (the soak injects its faults there).
	Invoker func(function string, pool *lambdasim.Pool) lambdasim.Invoker
	// Observe hears the status changes, notifications and Slack posts.
	Observe Observer
	// Logger hears the event sources' own troubles (a failed poll).
	Logger *slog.Logger
}

// Running is a stack whose functions take events: each function's pool
// of execution environments under the Runtime Interface Emulator, the
// event sources that invoke them as Lambda would, the Slack stand-in and
// the observers.
type Running struct {
	Pools map[string]*lambdasim.Pool
	Slack *slacktest.Server

	cancel    context.CancelFunc
	running   sync.WaitGroup
	observe   func()
	closeOnce sync.Once
	logs      *prefixLogs
}

// Start builds every function of the stack, starts an execution
// environment for each (more as its event sources need them, up to the
// concurrency the template allows), and plays Lambda's and EventBridge's
// part until Close: an SQS event source mapping per SQS event (batch
// size, maximum concurrency, partial batch responses), an asynchronous
// invoker per EventBridge rule (the template's retries, then the
// on-failure destination), and each Schedule event. When Start returns
// without an error, every function takes events.
func Start(ctx context.Context, st *State, o StartOptions) (r *Running, err error) {
	o = o.withDefaults()
	r = &Running{Pools: map[string]*lambdasim.Pool{}, logs: newPrefixLogs(o.Logs)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if st.Watch.Slack != nil {
		if r.Slack, err = slacktest.Listen(st.Watch.Slack.URL); err != nil {
			return nil, err
		}
	}
	if err := r.startPools(ctx, st, o); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	sq := sqs.NewFromConfig(st.AWS())
	for _, run := range r.sources(st, o, sq) {
		r.running.Add(1)
		go func() {
			defer r.running.Done()
			_ = run(runCtx)
		}()
	}
	r.observe = st.Watch.observe(runCtx, sq, r.Slack, o.Observe)
	return r, nil
}

func (o StartOptions) withDefaults() StartOptions {
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.AsyncConcurrency <= 0 {
		o.AsyncConcurrency = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// startPools builds each function and starts one execution environment
// of it; a pool grows to the concurrency the function's event sources
// allow.
func (r *Running) startPools(ctx context.Context, st *State, o StartOptions) error {
	moduleDir := st.ModuleDir()
	rie, err := lambdasim.BuildRIE(ctx, moduleDir, o.BuildDir)
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(st.Stack.Functions)) {
		fn := st.Stack.Functions[id]
		bootstrap := filepath.Join(o.BuildDir, id, "bootstrap")
		if err := lambdasim.BuildFunction(ctx, moduleDir, fn.Package, bootstrap); err != nil {
			return err
		}
		p := lambdasim.NewPool(lambdasim.RIEConfig{RIE: rie, Bootstrap: bootstrap, Name: id,
			Timeout: fn.Timeout, MemoryMB: fn.MemoryMB, Env: fn.Env, Output: r.logs.For(id)}, st.Stack.concurrency(id, o.AsyncConcurrency))
		r.Pools[id] = p
		if err := p.Warm(ctx, 1); err != nil {
			return err
		}
	}
	return nil
}

// concurrency is how many invocations of a function its event sources
// may run at once: each SQS source's maximum concurrency, each rule's
// asynchronous invokers, one per schedule.
func (s *Stack) concurrency(id string, async int) int {
	fn := s.Functions[id]
	n := len(fn.Schedules)
	for _, src := range fn.SQS {
		n += max(src.MaxConcurrency, 1)
	}
	for _, rule := range s.Rules {
		if rule.Function == id {
			n += async
		}
	}
	return max(n, 1)
}

// sources returns a runner for every event source of the stack.
func (r *Running) sources(st *State, o StartOptions, sq *sqs.Client) []func(context.Context) error {
	s := st.Stack
	invoker := func(id string) lambdasim.Invoker {
		if o.Invoker != nil {
			return o.Invoker(id, r.Pools[id])
		}
		return r.Pools[id]
	}
	var runners []func(context.Context) error
	for _, id := range slices.Sorted(maps.Keys(s.Functions)) {
		fn := s.Functions[id]
		for _, sc := range fn.Schedules {
			every := sc.Every
			if o.ScheduleEvery > 0 {
				every = o.ScheduleEvery
			}
			runners = append(runners, schedule(s.Region, sc, every, invoker(id)))
		}
		for _, src := range fn.SQS {
			es := &lambdasim.SQSSource{SQS: sq, QueueURL: src.Queue.URL, QueueARN: src.Queue.ARN, BatchSize: src.BatchSize,
				MaxConcurrency: src.MaxConcurrency, Function: invoker(id), Logger: o.Logger}
			runners = append(runners, es.Run)
		}
	}
	for _, rule := range s.Rules {
		a := &lambdasim.AsyncSource{SQS: sq, QueueURL: rule.Target.URL, Function: invoker(rule.Function), Retries: rule.Retries,
			RetryDelay: o.RetryDelay, Logger: o.Logger,
			FunctionARN: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s-%s", s.Region, Account, s.StackName, rule.Function)}
		if rule.OnFailure != nil {
			a.OnFailureQueueURL = rule.OnFailure.URL
		}
		for range o.AsyncConcurrency {
			runners = append(runners, a.Run)
		}
	}
	return runners
}

// schedule invokes a function every period with the event EventBridge
// Scheduler sends.
func schedule(region string, sc Schedule, every time.Duration, inv lambdasim.Invoker) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				_, _ = inv.Invoke(ctx, scheduledEvent(region, sc, now))
			}
		}
	}
}

// scheduledEvent is the event EventBridge Scheduler sends a function.
func scheduledEvent(region string, sc Schedule, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": fmt.Sprintf("local-%d", at.UnixNano()), "detail-type": "Scheduled Event", "source": "aws.events",
		"account": Account, "time": at.UTC().Format(time.RFC3339), "region": region,
		"resources": []string{"local-schedule/" + sc.Event}, "detail": map[string]any{},
	})
	return b
}

// Close stops the event sources (an invocation in flight is cancelled;
// its messages come back after their visibility timeout, as with Lambda),
// then the execution environments, the observers and the Slack stand-in.
// Nothing Start started runs after it; calling it again does nothing.
func (r *Running) Close() { r.closeOnce.Do(r.close) }

func (r *Running) close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.running.Wait()
	for _, p := range r.Pools {
		p.Close()
	}
	if r.observe != nil {
		r.observe()
	}
	if r.Slack != nil {
		r.Slack.Close()
	}
}
