package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/samtemplate"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// slackParameter is where the soak stores the Slack webhook URL.
const slackParameter = "/jobwatch/soak/slack-webhook"

// app is the application stood up for a run and what watches it.
type app struct {
	cfg      aws.Config
	sqs      *sqs.Client
	moto     *devstack.Server // nil when the run uses a moto server it did not start
	motoLog  string
	started  time.Time
	emu      *emulator.Server
	slack    *slacktest.Server
	stack    *devstack.Stack
	runtimes []*lambdasim.RIEFunction
	invokers map[string]lambdasim.Invoker
	in       *injector
	ledger   *ledger
	logFile  *os.File
	// observers are the queues receiving what users would: the bus's
	// status changes and the topic's notifications.
	observers    []string
	observerRule string
	stopCollect  context.CancelFunc
	collecting   sync.WaitGroup
	deleteStack  bool
	// scheduleEvery replaces the period of every Schedule event.
	scheduleEvery time.Duration
}

// standUp starts moto (unless given one), the emulator and the Slack
// stand-in, creates the template's resources, builds the functions and
// starts each under as many Runtime Interface Emulators as its event
// sources may invoke it at once, and starts watching the bus, the topic
// and Slack. The app it returns is to be closed even with an error.
func standUp(ctx context.Context, o Options, work string, say func(string, ...any)) (*app, error) {
	a := &app{ledger: newLedger(), started: time.Now(), scheduleEvery: o.ScheduleEvery}
	endpoint := o.MotoEndpoint
	if endpoint == "" {
		a.motoLog = filepath.Join(work, "moto.log")
		m, err := devstack.StartMoto(0, a.motoLog, false)
		if err != nil {
			return a, err
		}
		a.moto, endpoint = m, m.Endpoint
	} else {
		a.deleteStack = true
	}
	emu, err := emulator.Start(emulator.Config{Seed: o.Seed, Faults: *o.Faults,
		JobDurations: jobDurations(2*time.Second, 6*time.Second), State: emulatorState(o.Environments)})
	if err != nil {
		return a, err
	}
	a.emu = emu
	tmpl, err := samtemplate.Load(o.Template)
	if err != nil {
		return a, err
	}
	a.cfg = devstack.AWSConfig(endpoint)
	a.sqs = sqs.NewFromConfig(a.cfg)
	a.slack = slacktest.NewServer()
	if _, err := ssm.NewFromConfig(a.cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(slackParameter),
		Value: aws.String(a.slack.URL()), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
		return a, fmt.Errorf("store the Slack webhook in SSM: %w", err)
	}
	a.stack, err = devstack.Deploy(ctx, devstack.Options{
		App: tmpl, AWS: a.cfg, StackName: o.StackName, Region: devstack.Region, AccountID: devstack.Account,
		Parameters: map[string]string{
			"AllowedAppIds": AppID, "JobDeadline": o.JobDeadline.String(), "WaitDeadline": o.WaitDeadline.String(),
			"PollPolicy": o.PollPolicy, "StillRunningAfter": o.StillRunningAfter.String(), "SlackWebhookParameter": "ssm:" + slackParameter,
			"SlackStatuses": o.SlackStatuses, "SnsStatuses": snsStatuses,
		},
		VisibilityTimeout: o.VisibilityTimeout,
		FunctionEnv: map[string]string{
			"AWS_REGION": devstack.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
			"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_AMPLIFYBACKEND": emu.URL,
			// Local timings: seconds where the deployed defaults are minutes.
			"INITIAL_POLL_DELAY": "2s", "WAIT_RETRY_DELAY": "5s", "NOT_FOUND_GRACE": "30s", "NOT_FOUND_RETRY": "1s",
			// The Slack stand-in listens on plain HTTP on loopback.
			"SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL": "true",
		},
	})
	if err != nil {
		return a, err
	}
	if err := a.slowNotifyQueues(ctx, o.NotifyVisibilityTimeout); err != nil {
		return a, err
	}
	say("soak: created from %s: %d queues, event bus %s, table %s, topic %s; Slack stand-in (%s)",
		o.Template, len(a.stack.Queues), a.stack.Buses["EventBus"].Name, a.stack.Tables["StateTable"],
		a.stack.Topics["NotificationTopic"].Name, o.SlackStatuses)

	a.logFile, err = os.Create(filepath.Join(work, "functions.log"))
	if err != nil {
		return a, err
	}
	built := time.Now()
	pools, err := a.startFunctions(ctx, filepath.Dir(o.Template), filepath.Join(work, "build"))
	if err != nil {
		return a, err
	}
	say("soak: built the functions and started %d runtimes under the Runtime Interface Emulator in %s (logs: %s)",
		len(a.runtimes), time.Since(built).Round(100*time.Millisecond), a.logFile.Name())

	a.in = newInjector(a.sqs, o.DuplicateRate, o.Seed)
	a.invokers = map[string]lambdasim.Invoker{}
	for id, p := range pools {
		a.invokers[id] = p
	}
	if p, ok := pools["PollFunction"]; ok {
		a.invokers["PollFunction"] = &pollInvoker{pool: p, in: a.in, queueURL: a.sourceQueue("PollFunction")}
	}
	if p, ok := pools["NotifyFunction"]; ok {
		a.invokers["NotifyFunction"] = &notifyInvoker{pool: p, in: a.in, queueURL: a.sourceQueue("NotifyFunction")}
	}
	return a, a.watch(ctx, o.StackName)
}

// slowNotifyQueues gives the queues notify consumes a visibility timeout
// its batches fit in.
func (a *app) slowNotifyQueues(ctx context.Context, vt time.Duration) error {
	fn, ok := a.stack.Functions["NotifyFunction"]
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
	if f := a.stack.Functions[fn]; f != nil && len(f.SQS) > 0 {
		return f.SQS[0].Queue.URL
	}
	return ""
}

// startFunctions builds each function and runs it under as many emulators
// as may invoke it at once: the maximum concurrency of each SQS event
// source plus one per EventBridge rule.
func (a *app) startFunctions(ctx context.Context, moduleDir, buildDir string) (map[string]*pool, error) {
	rie, err := lambdasim.BuildRIE(ctx, moduleDir, buildDir)
	if err != nil {
		return nil, err
	}
	out := &lockedWriter{w: a.logFile}
	pools := map[string]*pool{}
	for _, id := range sortedKeys(a.stack.Functions) {
		fn := a.stack.Functions[id]
		bootstrap := filepath.Join(buildDir, id, "bootstrap")
		if err := lambdasim.BuildFunction(ctx, moduleDir, fn.Package, bootstrap); err != nil {
			return nil, err
		}
		size := 0
		for _, src := range fn.SQS {
			size += max(src.MaxConcurrency, 1)
		}
		for _, r := range a.stack.Rules {
			if r.Function == id {
				size += a.asyncConcurrency(r)
			}
		}
		size += len(fn.Schedules)
		var envs []runtime
		for range max(size, 1) {
			f, err := lambdasim.StartRIE(ctx, lambdasim.RIEConfig{RIE: rie, Bootstrap: bootstrap, Name: id,
				Timeout: fn.Timeout, MemoryMB: fn.MemoryMB, Env: fn.Env, Output: out})
			if err != nil {
				return nil, err
			}
			a.runtimes = append(a.runtimes, f)
			envs = append(envs, f)
		}
		pools[id] = newPool(id, envs)
	}
	return pools, nil
}

// lockedWriter serialises the writes of the emulators' output copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// asyncConcurrency is how many asynchronous invocations of a rule on the
// project's bus (the job requests) run at once. Lambda runs them side by
// side, up to the account's concurrency; devstack.Stack.Run plays one
// at a time, which would pace a thousand requests at the speed of one
// submit invocation. Rules on other buses (push hints on the default bus)
// see no traffic here and keep one.
func (a *app) asyncConcurrency(r devstack.Rule) int {
	if r.Bus == a.stack.Buses["EventBus"].Name {
		return 10
	}
	return 1
}

// asyncRetryDelay is the wait between the attempts of an asynchronous
// invocation (Lambda waits about one and two minutes).
const asyncRetryDelay = 5 * time.Second

// startSources plays Lambda's event sources with the soak's invokers
// until the returned stop is called: Stack.Run (schedules every
// scheduleEvery), and more pollers of each rule's invocation queue for
// asyncConcurrency.
func (a *app) startSources(ctx context.Context) (stop func()) {
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.stack.Run(runCtx, a.cfg, a.invokers, devstack.RunOptions{RetryDelay: asyncRetryDelay, ScheduleEvery: a.scheduleEvery})
	}()
	for _, r := range a.stack.Rules {
		for range a.asyncConcurrency(r) - 1 {
			src := &lambdasim.AsyncSource{SQS: a.sqs, QueueURL: r.Target.URL, Function: a.invokers[r.Function],
				Retries: r.Retries, RetryDelay: asyncRetryDelay,
				FunctionARN: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s-%s", a.stack.Region, devstack.Account, a.stack.StackName, r.Function)}
			if r.OnFailure != nil {
				src.OnFailureQueueURL = r.OnFailure.URL
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = src.Run(runCtx)
			}()
		}
	}
	return func() { cancel(); wg.Wait() }
}

// watch subscribes a queue to the status changes on the bus (as a user's
// rule would) and one to the topic, and records them and the Slack posts
// in the ledger until close.
func (a *app) watch(ctx context.Context, prefix string) error {
	eb := eventbridge.NewFromConfig(a.cfg)
	bus := a.stack.Buses["EventBus"].Name
	busQueue, busARN, err := a.createQueue(ctx, prefix+"-observer")
	if err != nil {
		return err
	}
	pattern := fmt.Sprintf(`{"detail-type":[%q]}`, contract.DetailTypeStatusChange)
	rule := prefix + "-observer"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		return fmt.Errorf("create the observer rule: %w", err)
	}
	a.observerRule = rule
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("soak"), Arn: aws.String(busARN)}}}); err != nil {
		return fmt.Errorf("target the observer rule: %w", err)
	}
	snsQueue, snsARN, err := a.createQueue(ctx, prefix+"-sns")
	if err != nil {
		return err
	}
	if _, err := sns.NewFromConfig(a.cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(a.stack.Topics["NotificationTopic"].ARN),
		Protocol: aws.String("sqs"), Endpoint: aws.String(snsARN)}); err != nil {
		return fmt.Errorf("subscribe to the topic: %w", err)
	}
	a.observers = []string{busQueue, snsQueue}

	cctx, cancel := context.WithCancel(context.Background())
	a.stopCollect = cancel
	a.collecting.Add(3)
	go func() {
		defer a.collecting.Done()
		a.collect(cctx, busQueue, func(body string) {
			var ev struct {
				Detail contract.StatusChange `json:"detail"`
			}
			_ = json.Unmarshal([]byte(body), &ev)
			a.ledger.busEvent(ev.Detail)
		})
	}()
	go func() {
		defer a.collecting.Done()
		a.collect(cctx, snsQueue, func(body string) {
			key, err := snsKey(body)
			a.ledger.delivery(sinkSNS, key, err)
		})
	}()
	go func() {
		defer a.collecting.Done()
		for p := range a.slack.Watch(cctx) {
			if p.Accepted() {
				key, err := slackKey(p.Body)
				a.ledger.delivery(sinkSlack, key, err)
			}
		}
	}()
	return nil
}

func (a *app) createQueue(ctx context.Context, name string) (url, arn string, err error) {
	q, err := a.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(q.QueueUrl), fmt.Sprintf("arn:aws:sqs:%s:%s:%s", devstack.Region, devstack.Account, name), nil
}

// collect receives a queue's messages until ctx ends, handing each body
// to handle once: a message received again (its deletion failed) is
// recognised by its message id and not counted twice.
func (a *app) collect(ctx context.Context, url string, handle func(body string)) {
	seen := map[string]bool{}
	for ctx.Err() == nil {
		out, err := a.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		var entries []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				handle(aws.ToString(m.Body))
			}
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if len(entries) > 0 {
			_, _ = a.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		}
	}
}

// depth is how many messages a queue holds: visible, in flight and
// delayed.
func (a *app) depth(ctx context.Context, url string) (int, error) {
	out, err := a.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n, nil
}

// inFlight is how many messages the queues a function consumes, the
// rules' invocation queues and the observers' queues hold: work not done
// yet, or deliveries not yet seen.
func (a *app) inFlight(ctx context.Context) (int, error) {
	var urls []string
	for _, id := range sortedKeys(a.stack.Functions) {
		for _, src := range a.stack.Functions[id].SQS {
			urls = append(urls, src.Queue.URL)
		}
	}
	for _, r := range a.stack.Rules {
		urls = append(urls, r.Target.URL)
	}
	urls = append(urls, a.observers...)
	total := 0
	for _, u := range urls {
		n, err := a.depth(ctx, u)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// quiesce waits until nothing is in flight (twice in a row, a second
// apart), for at most three minutes.
func (a *app) quiesce(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	for empty := 0; empty < 2; {
		if time.Now().After(deadline) {
			return errors.New("messages remain after 3 minutes")
		}
		sleepCtx(ctx, time.Second)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, err := a.inFlight(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			empty++
		} else {
			empty = 0
		}
	}
	return nil
}

// deadLetters counts the messages in every queue no function consumes:
// the dead-letter queues and the submit function's on-failure destination,
// where work that did not get done is parked. samples holds the start of
// one message of each queue that is not empty.
func (a *app) deadLetters(ctx context.Context) (counts map[string]int, samples map[string]string, err error) {
	consumed := map[string]bool{}
	for _, fn := range a.stack.Functions {
		for _, src := range fn.SQS {
			consumed[src.Queue.LogicalID] = true
		}
	}
	counts, samples = map[string]int{}, map[string]string{}
	var errs []error
	for _, id := range sortedKeys(a.stack.Queues) {
		if consumed[id] {
			continue
		}
		q := a.stack.Queues[id]
		n, err := a.depth(ctx, q.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		counts[id] = n
		if n == 0 {
			continue
		}
		out, err := a.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 1, VisibilityTimeout: 0})
		if err == nil && len(out.Messages) > 0 {
			body := aws.ToString(out.Messages[0].Body)
			samples[id] = body[:min(len(body), 400)]
		}
	}
	return counts, samples, errors.Join(errs...)
}

// motoUsage says how busy the moto server this run started was: the
// requests it logged and the CPU time it used (Linux), against the run's
// wall time so far.
func (a *app) motoUsage() (string, bool) {
	if a.moto == nil || a.moto.PID == 0 {
		return "", false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.moto.PID))
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
	if b, err := os.ReadFile(a.motoLog); err == nil {
		requests = bytes.Count(b, []byte(` HTTP/1.1" `)) // werkzeug's access log: one line a request
	}
	wall := time.Since(a.started)
	return fmt.Sprintf("%d requests (%.0f a second), %s of CPU in %s of wall time (%.0f%% of one core; it serves on one)",
		requests, float64(requests)/wall.Seconds(), cpu.Round(time.Second), wall.Round(time.Second), 100*cpu.Seconds()/wall.Seconds()), true
}

// close stops everything standUp started.
func (a *app) close() {
	if a.stopCollect != nil {
		a.stopCollect()
		a.collecting.Wait()
	}
	for _, f := range a.runtimes {
		_ = f.Close()
	}
	if a.logFile != nil {
		_ = a.logFile.Close()
	}
	if a.slack != nil {
		a.slack.Close()
	}
	if a.emu != nil {
		_ = a.emu.Close()
	}
	if a.deleteStack && a.stack != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if a.observerRule != "" {
			eb := eventbridge.NewFromConfig(a.cfg)
			bus := aws.String(a.stack.Buses["EventBus"].Name)
			_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(a.observerRule), EventBusName: bus, Ids: []string{"soak"}})
			_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(a.observerRule), EventBusName: bus})
		}
		_ = a.stack.Delete(ctx, a.cfg)
		for _, u := range a.observers {
			_, _ = a.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	}
	if a.moto != nil {
		a.moto.Stop()
	}
}
