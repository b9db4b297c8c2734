package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
)

// Activity is one invocation made by Run, for progress displays and tests.
type Activity struct {
	Function, Source string
	Records          int
	Failed           int
	Err              error
}

// RunOptions tune Run.
type RunOptions struct {
	Logger *slog.Logger
	// RetryDelay is the wait between asynchronous attempts (Lambda waits
	// minutes; locally a second or so).
	RetryDelay time.Duration
	// OnActivity, when set, hears of every invocation.
	OnActivity func(Activity)
	// ScheduleEvery, when set, replaces the period of every Schedule event
	// (minutes when deployed; seconds in a local run).
	ScheduleEvery time.Duration
}

// Run plays Lambda's part for every event source of the stack until ctx
// ends: an SQS event source mapping per SQS event (batch size and maximum
// concurrency as in the template, partial batch responses), and an
// asynchronous invoker per EventBridge rule (retries, then the on-failure
// destination). invokers holds each function by logical id.
func (s *Stack) Run(ctx context.Context, cfg aws.Config, invokers map[string]lambdasim.Invoker, o RunOptions) error {
	c := sqs.NewFromConfig(cfg)
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	notify := func(a Activity) {
		if o.OnActivity != nil {
			o.OnActivity(a)
		}
	}
	var runners []func(context.Context) error
	for _, id := range sortedKeys(s.Functions) {
		fn := s.Functions[id]
		inv, ok := invokers[id]
		if !ok {
			return fmt.Errorf("no invoker for function %s", id)
		}
		for _, sc := range fn.Schedules {
			every := sc.Every
			if o.ScheduleEvery > 0 {
				every = o.ScheduleEvery
			}
			runners = append(runners, func(ctx context.Context) error {
				t := time.NewTicker(every)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return nil
					case now := <-t.C:
						payload := scheduledEvent(s.Region, sc, now)
						_, err := inv.Invoke(ctx, payload)
						notify(Activity{Function: id, Source: sc.Event, Records: 1, Err: err})
					}
				}
			})
		}
		for _, src := range fn.SQS {
			src := src
			es := &lambdasim.SQSSource{SQS: c, QueueURL: src.Queue.URL, QueueARN: src.Queue.ARN, BatchSize: src.BatchSize,
				MaxConcurrency: src.MaxConcurrency, Function: inv, Logger: logger,
				OnBatch: func(records int, failed []string, err error) {
					notify(Activity{Function: id, Source: src.Event, Records: records, Failed: len(failed), Err: err})
				}}
			runners = append(runners, es.Run)
		}
	}
	for _, r := range s.Rules {
		r := r
		inv, ok := invokers[r.Function]
		if !ok {
			return fmt.Errorf("no invoker for function %s", r.Function)
		}
		a := &lambdasim.AsyncSource{SQS: c, QueueURL: r.Target.URL, Function: inv, Retries: r.Retries, RetryDelay: o.RetryDelay,
			FunctionARN: fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s-%s", s.Region, s.StackName, r.Function), Logger: logger,
			OnInvoke: func(_, _ []byte, err error) {
				notify(Activity{Function: r.Function, Source: r.Event, Records: 1, Err: err})
			}}
		if r.OnFailure != nil {
			a.OnFailureQueueURL = r.OnFailure.URL
		}
		runners = append(runners, a.Run)
	}
	var wg sync.WaitGroup
	for _, run := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// scheduledEvent is the event EventBridge Scheduler sends a function.
func scheduledEvent(region string, sc Schedule, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": fmt.Sprintf("local-%d", at.UnixNano()), "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "123456789012", "time": at.UTC().Format(time.RFC3339), "region": region,
		"resources": []string{"local-schedule/" + sc.Event}, "detail": map[string]any{},
	})
	return b
}
