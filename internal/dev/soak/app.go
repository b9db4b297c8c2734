package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// app is the application stood up for a run and what watches it.
type app struct {
	st      *devstack.State
	run     *devstack.Running
	cfg     aws.Config
	sqs     *sqs.Client
	started time.Time
	emu     *emulator.Server
	in      *injector
	ledger  *ledger
	logFile *os.File
}

// asyncConcurrency is how many asynchronous invocations of a rule run at
// once: Lambda runs them side by side, up to the account's concurrency,
// and a thousand requests must not be paced by one submit invocation.
const asyncConcurrency = 10

// asyncRetryDelay is the wait between the attempts of an asynchronous
// invocation (Lambda waits about one and two minutes).
const asyncRetryDelay = 5 * time.Second

// standUp starts the emulator and the local stack the way jobwatch local
// up and local start do (moto unless given one, the template's resources,
// the functions under the Runtime Interface Emulator, the Slack stand-in
// and the observers), with the soak's faults between the event sources and
// poll and notify. The app it returns is to be closed even with an error.
func standUp(ctx context.Context, o Options, work string, say func(string, ...any)) (*app, error) {
	a := &app{ledger: newLedger(), started: time.Now()}
	emu, err := emulator.Start(emulator.Config{Seed: o.Seed, Faults: *o.Faults,
		JobDurations: jobDurations(2*time.Second, 6*time.Second), State: emulatorState(o.Environments)})
	if err != nil {
		return a, err
	}
	a.emu = emu
	a.st, err = devstack.Up(ctx, devstack.UpOptions{Template: o.Template, StackName: o.StackName,
		Moto: o.MotoEndpoint, MotoLog: filepath.Join(work, "moto.log"), Emulator: devstack.Server{Endpoint: emu.URL},
		Parameters: map[string]string{
			"JobDeadline": o.JobDeadline.String(), "WaitDeadline": o.WaitDeadline.String(), "PollPolicy": o.PollPolicy,
			"StillRunningAfter": o.StillRunningAfter.String(), "SlackStatuses": o.SlackStatuses, "SnsStatuses": snsStatuses,
		},
		VisibilityTimeout: o.VisibilityTimeout,
		// A waiting line looks again after WAIT_RETRY_DELAY only as a
		// fallback (poll's wake-up at a job's end moves it): a short one
		// floods the waiting queue with a wake-up per line every few
		// seconds, and poll's wake-ups wait behind them.
		Env: map[string]string{"WAIT_RETRY_DELAY": "30s", "NOT_FOUND_RETRY": "1s"},
	})
	if err != nil {
		return a, err
	}
	a.cfg = a.st.AWS()
	a.sqs = sqs.NewFromConfig(a.cfg)
	if err := a.slowNotifyQueues(ctx, o.NotifyVisibilityTimeout); err != nil {
		return a, err
	}
	s := a.st.Stack
	say("soak: created from %s: %d queues, event bus %s, table %s, topic %s; Slack stand-in (%s)",
		o.Template, len(s.Queues), s.Buses["EventBus"].Name, s.Tables["StateTable"], s.Topics["NotificationTopic"].Name, o.SlackStatuses)
	if a.logFile, err = os.Create(filepath.Join(work, "functions.log")); err != nil {
		return a, err
	}
	a.in = newInjector(a.sqs, o.DuplicateRate, o.Seed)
	built := time.Now()
	a.run, err = devstack.Start(ctx, a.st, devstack.StartOptions{BuildDir: filepath.Join(work, "build"), Logs: a.logFile,
		RetryDelay: asyncRetryDelay, ScheduleEvery: o.ScheduleEvery, AsyncConcurrency: asyncConcurrency,
		Invoker: a.invoker, Observe: a.observer()})
	if err != nil {
		return a, err
	}
	say("soak: built the functions and started them under the Runtime Interface Emulator in %s (logs: %s)",
		time.Since(built).Round(100*time.Millisecond), a.logFile.Name())
	return a, nil
}

// invoker puts the soak's faults between the event sources and poll and
// notify.
func (a *app) invoker(function string, pool *lambdasim.Pool) lambdasim.Invoker {
	switch function {
	case "PollFunction":
		return &pollInvoker{pool: poolRuntimes{pool}, in: a.in, queueURL: a.sourceQueue(function)}
	case "NotifyFunction":
		return &notifyInvoker{pool: poolRuntimes{pool}, in: a.in, queueURL: a.sourceQueue(function)}
	}
	return pool
}

// observer records in the ledger what reaches users.
func (a *app) observer() devstack.Observer {
	return devstack.Observer{
		OnEvent: func(ev devstack.Event) { a.ledger.busEvent(ev.Detail) },
		OnNotification: func(n devstack.Notification) {
			key, err := snsKey(n.Message)
			a.ledger.delivery(sinkSNS, key, err)
		},
		OnSlack: func(p slacktest.Post) {
			if p.Accepted() {
				key, err := slackKey(p.Body)
				a.ledger.delivery(sinkSlack, key, err)
			}
		},
	}
}

// slowNotifyQueues gives the queues notify consumes a visibility timeout
// its batches fit in.
func (a *app) slowNotifyQueues(ctx context.Context, vt time.Duration) error {
	fn, ok := a.st.Stack.Functions["NotifyFunction"]
	if !ok {
		return nil
	}
	for _, src := range fn.SQS {
		if _, err := a.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(src.Queue.URL),
			Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(int(vt / time.Second))}}); err != nil {
			return fmt.Errorf("set the visibility timeout of %s: %w", src.Queue.LogicalID, err)
		}
	}
	return nil
}

// sourceQueue is the queue of a function's (first) SQS event source.
func (a *app) sourceQueue(fn string) string {
	if f := a.st.Stack.Functions[fn]; f != nil && len(f.SQS) > 0 {
		return f.SQS[0].Queue.URL
	}
	return ""
}

// motoUsage says how busy the moto server this run started was: the
// requests it logged and the CPU time it used (Linux), against the run's
// wall time so far.
func (a *app) motoUsage() (string, bool) {
	if a.st == nil || a.st.Moto.PID == 0 {
		return "", false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.st.Moto.PID))
	if err != nil {
		return "", false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return "", false
	}
	utime, _ := strconv.Atoi(fields[11])
	stime, _ := strconv.Atoi(fields[12])
	cpu := time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	requests := 0
	if b, err := os.ReadFile(a.st.Logs["moto"]); err == nil {
		requests = bytes.Count(b, []byte(` HTTP/1.1" `)) // werkzeug's access log: one line a request
	}
	wall := time.Since(a.started)
	return fmt.Sprintf("%d requests (%.0f a second), %s of CPU in %s of wall time (%.0f%% of one core; it serves on one)",
		requests, float64(requests)/wall.Seconds(), cpu.Round(time.Second), wall.Round(time.Second), 100*cpu.Seconds()/wall.Seconds()), true
}

// close stops everything standUp started; a moto server the run did not
// start is left running, without the run's resources.
func (a *app) close() {
	if a.run != nil {
		a.run.Close()
	}
	if a.logFile != nil {
		_ = a.logFile.Close()
	}
	if a.st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.st.Down(ctx)
	}
	if a.emu != nil {
		_ = a.emu.Close()
	}
}
