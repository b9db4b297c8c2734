// Package demo runs jobwatch's main job end to end on one machine: it
// stands the SAM application up on moto and the Admin API emulator, runs
// the three functions' bootstraps under the Lambda Runtime Interface
// Emulator, submits jobs through the event bus and shows them being
// tracked and announced.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/samtemplate"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// AppID is the Amplify app the demo acts on.
const AppID = devstack.AppID

// Options configure a demo run.
type Options struct {
	// Template is the SAM template; its directory is the Go module built.
	Template string
	// Jobs is how many jobs to submit (at least 5: the demo's set of
	// outcomes; more are extra clones on their own environments).
	Jobs int
	// Faults are the emulator's faults (throttling, 504s, NotFound window).
	Faults emulator.Faults
	// Timeout bounds the run once the functions are up; building them (a
	// minute or two on a cold build cache) does not count.
	Timeout time.Duration
	// WorkDir holds builds and logs; default a temporary directory,
	// removed at the end.
	WorkDir string
	// Live redraws a progress table (for a terminal); otherwise progress
	// is printed as lines when a job's state changes.
	Live bool
	// Seed seeds the emulator.
	Seed uint64
}

// Job is one job the demo submitted and what became of it.
type Job struct {
	RequestID, Operation, Env, Note string
	JobID, Status                   string
	Event                           *contract.StatusChange
	LagSeconds                      float64
}

// Summary is the outcome of a run.
type Summary struct {
	Jobs           []*Job
	Outcomes       map[string]int
	APICalls       int
	APICallsPerJob float64
	LagP50, LagMax float64
	Elapsed        time.Duration
	// SlackPosts and SNSMessages count what reached the Slack stand-in
	// and the queue subscribed to the topic.
	SlackPosts, SNSMessages int
}

// slackParameter is where the demo stores the Slack webhook URL.
const slackParameter = "/jobwatch/slack-webhook"

// request is a job the demo submits.
type request struct {
	id, op, env, note, input string
}

// requests are the demo's jobs: one of each outcome and a request queued
// behind a pending job, then extra clones.
func requests(n int) []request {
	rs := []request{
		{"demo-clone", "CloneBackend", "dev", "clone dev into pr-42",
			`{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"pr-42"}`},
		{"demo-auth", "CreateBackendAuth", "staging", "Cognito auth with Google sign-in (its OAuth client secret never reaches a log)",
			`{"AppId":"d1abc23","BackendEnvironmentName":"staging","ResourceName":"auth","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO","UserPoolConfigs":{"RequiredSignUpAttributes":["EMAIL"],"SignInMethod":"EMAIL","UserPoolName":"demo-users","OAuth":{"OAuthGrantType":"CODE","OAuthScopes":["EMAIL","OPENID"],"RedirectSignInURIs":["https://demo.example.com/"],"RedirectSignOutURIs":["https://demo.example.com/"],"SocialProviderSettings":{"Google":{"ClientId":"demo-google-client","ClientSecret":"demo-google-secret-do-not-log"}}}}}}`},
		{"demo-api", "CreateBackendAPI", "prod", "GraphQL API",
			`{"AppId":"d1abc23","BackendEnvironmentName":"prod","ResourceName":"api","ResourceConfig":{"ApiName":"api","Service":"AppSync"}}`},
		{"demo-api-update", "UpdateBackendAPI", "prod", "waits for the API job on prod, then runs",
			`{"AppId":"d1abc23","BackendEnvironmentName":"prod","ResourceName":"api","ResourceConfig":{"ApiName":"api","Service":"AppSync","TransformSchema":"type Todo @model { id: ID! }"}}`},
		{"demo-import", "ImportBackendStorage", "qa", "imports a bucket; the service fails it",
			`{"AppId":"d1abc23","BackendEnvironmentName":"qa","BucketName":"demo-uploads","ServiceName":"S3"}`},
	}
	for i := len(rs); i < n; i++ {
		env := fmt.Sprintf("feature-%d", i-len(rs)+1)
		rs = append(rs, request{fmt.Sprintf("demo-clone-%d", i), "CloneBackend", env, "clone " + env,
			fmt.Sprintf(`{"AppId":"d1abc23","BackendEnvironmentName":%q,"TargetEnvironmentName":"%s-copy"}`, env, env)})
	}
	return rs
}

// Run runs the demo and writes its progress to out.
func Run(ctx context.Context, o Options, out io.Writer) (*Summary, error) {
	start := time.Now()
	if o.Jobs < 5 {
		o.Jobs = 5
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, 15*time.Minute)
	defer cancelSetup()
	work := o.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "jobwatch-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	reqs := requests(o.Jobs)
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("jobwatch demo: %d Amplify Admin API jobs, submitted through EventBridge, tracked and announced on this machine", len(reqs))
	say("· starting moto server (SQS, EventBridge, DynamoDB) and the Admin API emulator")
	moto, err := devstack.StartMoto(0, filepath.Join(work, "moto.log"), false)
	if err != nil {
		return nil, err
	}
	defer moto.Stop()
	envs := map[string]bool{}
	for _, r := range reqs {
		envs[r.env] = true
	}
	faults := o.Faults
	faults.FailOperations = append(faults.FailOperations, "ImportBackendStorage")
	emu, err := emulator.Start(emulator.Config{Seed: o.Seed, Faults: faults,
		JobDurations: emulator.FixedDurations(6*time.Second, map[string]time.Duration{
			"CloneBackend": 8 * time.Second, "CreateBackendAuth": 10 * time.Second, "ImportBackendStorage": 4 * time.Second,
		}),
		State: &emulator.State{Apps: []emulator.StateApp{{AppId: AppID, AppName: "demo", Environments: sortedSet(envs)}}}})
	if err != nil {
		return nil, err
	}
	defer emu.Close()

	app, err := samtemplate.Load(o.Template)
	if err != nil {
		return nil, err
	}
	cfg := devstack.AWSConfig(moto.Endpoint)
	// Slack: a stand-in webhook whose URL is stored, as in AWS, as an SSM
	// SecureString that notify reads by name.
	slackSrv := slacktest.NewServer()
	defer slackSrv.Close()
	if _, err := ssm.NewFromConfig(cfg).PutParameter(setupCtx, &ssm.PutParameterInput{Name: aws.String(slackParameter),
		Value: aws.String(slackSrv.URL()), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
		return nil, fmt.Errorf("store the Slack webhook in SSM: %w", err)
	}
	stack, err := devstack.Deploy(setupCtx, devstack.Options{
		App: app, AWS: cfg, StackName: "jobwatch-demo", Region: devstack.Region, AccountID: devstack.Account,
		Parameters:        map[string]string{"AllowedAppIds": AppID, "SlackWebhookParameter": "ssm:" + slackParameter},
		VisibilityTimeout: 5 * time.Second,
		FunctionEnv: map[string]string{
			"AWS_REGION": devstack.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
			"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_ENDPOINT_URL_AMPLIFYBACKEND": emu.URL,
			"INITIAL_POLL_DELAY": "2s", "WAIT_RETRY_DELAY": "3s", "NOT_FOUND_GRACE": "30s",
			// The stand-in listens on plain HTTP on loopback.
			"SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL": "true",
		},
	})
	if err != nil {
		return nil, err
	}
	say("· created from %s: %d queues (each with a dead-letter queue), event bus %s, table %s, topic %s",
		o.Template, len(stack.Queues)/2, stack.Buses["EventBus"].Name, stack.Tables["StateTable"], stack.Topics["NotificationTopic"].Name)
	say("· Slack: a webhook stand-in at %s (its URL is an SSM SecureString, %s); SNS: a queue subscribed to the topic",
		redactedURL(slackSrv.URL()), slackParameter)
	say("· building the functions and starting them under the Lambda Runtime Interface Emulator")
	logPath := filepath.Join(work, "functions.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	built := time.Now()
	fns, err := stack.StartFunctions(setupCtx, filepath.Dir(o.Template), filepath.Join(work, "build"), logFile)
	if err != nil {
		return nil, err
	}
	defer fns.Close()
	say("  (built and started in %s)", time.Since(built).Round(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	sq := sqs.NewFromConfig(cfg)
	eb := eventbridge.NewFromConfig(cfg)
	events, err := observe(ctx, sq, eb, stack.Buses["EventBus"].Name)
	if err != nil {
		return nil, err
	}
	snsMessages, err := subscribe(ctx, sq, sns.NewFromConfig(cfg), stack.Topics["NotificationTopic"].ARN)
	if err != nil {
		return nil, err
	}
	slackPosts := slackSrv.Watch(ctx)
	runCtx, stopRun := context.WithCancel(ctx)
	var running sync.WaitGroup
	running.Add(1)
	go func() {
		defer running.Done()
		_ = stack.Run(runCtx, cfg, fns.Invokers(), devstack.RunOptions{RetryDelay: time.Second, ScheduleEvery: 15 * time.Second})
	}()
	defer func() { stopRun(); running.Wait() }()

	jobs := make([]*Job, len(reqs))
	byRequest := map[string]*Job{}
	for i, r := range reqs {
		jobs[i] = &Job{RequestID: r.id, Operation: r.op, Env: r.env, Note: r.note, Status: "SUBMITTED"}
		byRequest[r.id] = jobs[i]
	}
	say("· submitting the jobs as \"%s\" events on %s:", contract.DetailTypeJobRequested, stack.Buses["EventBus"].Name)
	for _, r := range reqs {
		detail := fmt.Sprintf(`{"operation":%q,"input":%s,"requestId":%q}`, r.op, r.input, r.id)
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String(stack.Buses["EventBus"].Name), Source: aws.String("jobwatch.demo"),
			DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(detail)}}}); err != nil {
			return nil, fmt.Errorf("put job request: %w", err)
		}
		say("    %-22s %-9s %s", r.op, r.env, r.note)
		time.Sleep(150 * time.Millisecond)
	}
	say("")
	say("progress as the service reports it, and each event as jobwatch announces it:")

	p := &progress{out: out, live: o.Live, jobs: jobs}
	done, slackCount, snsCount := 0, 0, 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done < len(jobs) {
		// Follow the jobs in the emulator for the progress table.
		p.refresh(emu, byRequest)
		select {
		case <-ctx.Done():
			p.draw(true)
			return summarize(jobs, emu, start), fmt.Errorf("demo timed out after %v with %d of %d jobs announced", o.Timeout, done, len(jobs))
		case ev := <-events:
			j := findJob(jobs, ev)
			if j == nil || j.Event != nil {
				continue
			}
			j.Event, j.Status, j.JobID = &ev, ev.Status, ev.JobID
			j.LagSeconds = lag(ev)
			done++
			p.announce(j)
		case post := <-slackPosts:
			p.note("slack", slackText(post))
			slackCount++
		case m := <-snsMessages:
			p.note("sns  ", m)
			snsCount++
		case <-tick.C:
			p.draw(false)
		}
	}
	// The last Slack posts and SNS messages may trail the last event.
	linger := time.After(3 * time.Second)
	for waiting := true; waiting; {
		select {
		case post := <-slackPosts:
			p.note("slack", slackText(post))
			slackCount++
		case m := <-snsMessages:
			p.note("sns  ", m)
			snsCount++
		case <-linger:
			waiting = false
		}
	}
	p.draw(true)
	s := summarize(jobs, emu, start)
	say("")
	say("summary: %d jobs in %s — %s", len(jobs), s.Elapsed.Round(time.Second), outcomesText(s.Outcomes))
	say("         detection lag p50 %.1fs, max %.1fs (from the job's end to its event)", s.LagP50, s.LagMax)
	say("         %d Admin API calls, %.1f per job (throttled and timed-out calls included)", s.APICalls, s.APICallsPerJob)
	say("         %d Slack posts, %d SNS messages", slackCount, snsCount)
	s.SlackPosts, s.SNSMessages = slackCount, snsCount
	say("         logs of the functions: %s", logPath)
	if strings.Contains(readFile(logPath), "demo-google-secret-do-not-log") {
		return s, errors.New("a client secret reached the functions' logs")
	}
	return s, nil
}

// observe subscribes a queue to the status-change events on the bus, as
// a user's rule would, and streams them.
func observe(ctx context.Context, sq *sqs.Client, eb *eventbridge.Client, bus string) (<-chan contract.StatusChange, error) {
	name := "jobwatch-demo-observer"
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	pattern := fmt.Sprintf(`{"detail-type":[%q]}`, contract.DetailTypeStatusChange)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		return nil, err
	}
	arn := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", devstack.Region, devstack.Account, name)
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("demo"), Arn: aws.String(arn)}}}); err != nil {
		return nil, err
	}
	ch := make(chan contract.StatusChange, 64)
	go func() {
		for ctx.Err() == nil {
			res, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			for _, m := range res.Messages {
				var ev struct {
					Detail contract.StatusChange `json:"detail"`
				}
				if json.Unmarshal([]byte(aws.ToString(m.Body)), &ev) == nil {
					select {
					case ch <- ev.Detail:
					case <-ctx.Done():
						return
					}
				}
				_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			}
		}
	}()
	return ch, nil
}

// subscribe subscribes a queue to the notification topic and streams
// each message's subject and attributes.
func subscribe(ctx context.Context, sq *sqs.Client, sn *sns.Client, topicARN string) (<-chan string, error) {
	name := "jobwatch-demo-sns"
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	arn := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", devstack.Region, devstack.Account, name)
	if _, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(arn)}); err != nil {
		return nil, fmt.Errorf("subscribe to the topic: %w", err)
	}
	ch := make(chan string, 64)
	go func() {
		for ctx.Err() == nil {
			res, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			for _, m := range res.Messages {
				var env struct {
					Subject           string
					MessageAttributes map[string]struct{ Value string }
				}
				if json.Unmarshal([]byte(aws.ToString(m.Body)), &env) == nil {
					text := fmt.Sprintf("%q [status=%s operation=%s]", env.Subject,
						env.MessageAttributes["status"].Value, env.MessageAttributes["operation"].Value)
					select {
					case ch <- text:
					case <-ctx.Done():
						return
					}
				}
				_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			}
		}
	}()
	return ch, nil
}

// slackText is the gist of a Slack post as a channel shows it: its
// header, and the error when there is one.
func slackText(p slacktest.Post) string {
	if !p.Accepted() {
		return fmt.Sprintf("refused (%d %s)", p.Status, p.Answer)
	}
	lines := strings.Split(strings.TrimSpace(slacktest.Render(p.Message)), "\n")
	text := lines[0]
	for i, l := range lines {
		if strings.TrimSpace(l) == "Error" && i+1 < len(lines) {
			text += " — " + strings.TrimSpace(lines[i+1])
		}
	}
	return text + fmt.Sprintf(" (Block Kit, %d blocks)", len(p.Message.Blocks))
}

// redactedURL shows a webhook URL without its secret path.
func redactedURL(u string) string {
	if i := strings.Index(u, "/services/"); i >= 0 {
		return u[:i] + "/services/***"
	}
	return u
}

func findJob(jobs []*Job, ev contract.StatusChange) *Job {
	for _, j := range jobs {
		if j.RequestID == ev.RequestID {
			return j
		}
	}
	return nil
}

// lag is the time from the job's end (the service's UpdateTime) to its
// detection.
func lag(ev contract.StatusChange) float64 {
	end, err1 := time.Parse(time.RFC3339Nano, ev.UpdateTime)
	detected, err2 := time.Parse(time.RFC3339Nano, ev.DetectedAt)
	if err1 != nil || err2 != nil {
		return 0
	}
	return detected.Sub(end).Seconds()
}

func summarize(jobs []*Job, emu *emulator.Server, start time.Time) *Summary {
	s := &Summary{Jobs: jobs, Outcomes: map[string]int{}, Elapsed: time.Since(start)}
	var lags []float64
	for _, j := range jobs {
		if j.Event == nil {
			s.Outcomes["not announced"]++
			continue
		}
		s.Outcomes[j.Status]++
		if j.Status == contract.StatusCompleted || j.Status == contract.StatusFailed {
			lags = append(lags, j.LagSeconds)
		}
	}
	slices.Sort(lags)
	if len(lags) > 0 {
		s.LagP50, s.LagMax = lags[len(lags)/2], lags[len(lags)-1]
	}
	for _, op := range emu.Stats().Operations {
		s.APICalls += op.Calls
	}
	s.APICallsPerJob = float64(s.APICalls) / float64(len(jobs))
	return s
}

func outcomesText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
