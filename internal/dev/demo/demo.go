// Package demo runs jobwatch's main job end to end on one machine: it
// stands the SAM application up on moto and the Admin API emulator, runs
// the three functions' bootstraps under the Lambda Runtime Interface
// Emulator, submits jobs through the event bus and shows them being
// tracked and announced.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
	"github.com/jobwatch/jobwatch/internal/metrics"
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

// request is a job the demo submits.
type request struct {
	id, op, env, note, input string
}

// requests are the demo's jobs: one of each outcome and a request queued
// behind a pending job, then extra clones.
func requests(n int) []request {
	rs := []request{
		{"demo-clone", "CloneBackend", "dev", "clone dev into preview",
			`{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"preview"}`},
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
		env := devstack.EnvName("feat", i-len(rs), 2)
		rs = append(rs, request{fmt.Sprintf("demo-clone-%d", i), "CloneBackend", env, "clone " + env,
			fmt.Sprintf(`{"AppId":"d1abc23","BackendEnvironmentName":%q,"TargetEnvironmentName":%q}`, env, devstack.EnvName("copy", i-len(rs), 2))})
	}
	return rs
}

// Run runs the demo and writes its progress to out.
func Run(ctx context.Context, o Options, out io.Writer) (*Summary, error) {
	start := time.Now()
	o = o.withDefaults()
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
	d, err := standUp(ctx, o, reqs, work, say)
	if d != nil {
		defer d.close()
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	jobs, err := d.submit(ctx, reqs, say)
	if err != nil {
		return nil, err
	}
	p := &progress{out: out, live: o.Live, jobs: jobs}
	err = d.follow(ctx, p, jobs)
	s := summarize(jobs, d.emu, start)
	if err != nil {
		return s, fmt.Errorf("demo timed out after %v with %d of %d jobs announced: %w", o.Timeout, len(jobs)-s.Outcomes["not announced"], len(jobs), err)
	}
	s.SlackPosts, s.SNSMessages = p.slack, p.sns
	say("")
	say("summary: %d jobs in %s — %s", len(jobs), s.Elapsed.Round(time.Second), outcomesText(s.Outcomes))
	say("         detection lag p50 %.1fs, max %.1fs (from the job's end to its event)", s.LagP50, s.LagMax)
	say("         %d Admin API calls, %.1f per job (throttled and timed-out calls included)", s.APICalls, s.APICallsPerJob)
	say("         %d Slack posts, %d SNS messages", s.SlackPosts, s.SNSMessages)
	say("         logs of the functions: %s", d.logPath)
	if err := sayMetrics(d.logPath, say); err != nil {
		return s, err
	}
	if strings.Contains(readFile(d.logPath), "demo-google-secret-do-not-log") {
		return s, errors.New("a client secret reached the functions' logs")
	}
	return s, nil
}

func (o Options) withDefaults() Options {
	if o.Jobs < 5 {
		o.Jobs = 5
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	return o
}

// demo is the stack a run stands up, and what it hears from it.
type demo struct {
	emu     *emulator.Server
	st      *devstack.State
	run     *devstack.Running
	logFile *os.File
	logPath string
	events  chan devstack.Event
	notes   chan note
	stop    chan struct{} // closed when the demo stops listening
}

// note is a Slack post or an SNS message, as the progress shows it.
type note struct{ channel, text string }

// standUp starts the emulator and the local stack (moto, the template's
// resources, the functions under the Runtime Interface Emulator) the way
// jobwatch local up and local start do. The demo it returns is to be
// closed even with an error.
func standUp(ctx context.Context, o Options, reqs []request, work string, say func(string, ...any)) (*demo, error) {
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	say("· starting moto server (SQS, EventBridge, DynamoDB) and the Admin API emulator")
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
		State: &emulator.State{Apps: []emulator.StateApp{{AppId: AppID, AppName: "demo", Environments: slices.Sorted(maps.Keys(envs))}}}})
	if err != nil {
		return nil, err
	}
	d := &demo{emu: emu, logPath: filepath.Join(work, "functions.log"), events: make(chan devstack.Event, 64), notes: make(chan note, 64),
		stop: make(chan struct{})}
	d.st, err = devstack.Up(setupCtx, devstack.UpOptions{Template: o.Template, StackName: "jobwatch-demo",
		MotoLog: filepath.Join(work, "moto.log"), Emulator: devstack.Server{Endpoint: emu.URL}})
	if err != nil {
		return d, err
	}
	s := d.st.Stack
	say("· created from %s: %d queues (each with a dead-letter queue), event bus %s, table %s, topic %s",
		o.Template, len(s.Queues)/2, s.Buses["EventBus"].Name, s.Tables["StateTable"], s.Topics["NotificationTopic"].Name)
	say("· Slack: a webhook stand-in at %s (its URL is an SSM SecureString, %s); SNS: a queue subscribed to the topic",
		redactedURL(d.st.Watch.Slack.URL), d.st.Watch.Slack.Parameter)
	say("· building the functions and starting them under the Lambda Runtime Interface Emulator")
	if d.logFile, err = os.Create(d.logPath); err != nil {
		return d, err
	}
	built := time.Now()
	d.run, err = devstack.Start(setupCtx, d.st, devstack.StartOptions{BuildDir: filepath.Join(work, "build"), Logs: d.logFile,
		ScheduleEvery: 15 * time.Second, Observe: d.observer()})
	if err != nil {
		return d, err
	}
	say("  (built and started in %s)", time.Since(built).Round(100*time.Millisecond))
	return d, nil
}

// observer hands what users receive to the progress loop.
func (d *demo) observer() devstack.Observer {
	hand := func(n note) {
		select {
		case d.notes <- n:
		case <-d.stop:
		}
	}
	return devstack.Observer{
		OnEvent: func(ev devstack.Event) {
			select {
			case d.events <- ev:
			case <-d.stop:
			}
		},
		OnNotification: func(n devstack.Notification) { hand(note{"sns  ", devstack.NotificationLine(n)}) },
		OnSlack:        func(p slacktest.Post) { hand(note{"slack", devstack.SlackLine(p)}) },
	}
}

// close stops everything standUp started.
func (d *demo) close() {
	close(d.stop)
	if d.run != nil {
		d.run.Close()
	}
	if d.st != nil {
		_ = d.st.Down(context.Background())
	}
	if d.logFile != nil {
		_ = d.logFile.Close()
	}
	_ = d.emu.Close()
}

// submit puts the demo's requests on the bus as job request events.
func (d *demo) submit(ctx context.Context, reqs []request, say func(string, ...any)) ([]*Job, error) {
	bus := d.st.Stack.Buses["EventBus"].Name
	eb := eventbridge.NewFromConfig(d.st.AWS())
	jobs := make([]*Job, len(reqs))
	say("· submitting the jobs as \"%s\" events on %s:", contract.DetailTypeJobRequested, bus)
	for i, r := range reqs {
		jobs[i] = &Job{RequestID: r.id, Operation: r.op, Env: r.env, Note: r.note, Status: "SUBMITTED"}
		detail := fmt.Sprintf(`{"operation":%q,"input":%s,"requestId":%q}`, r.op, r.input, r.id)
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String(bus), Source: aws.String("jobwatch.demo"),
			DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(detail)}}}); err != nil {
			return nil, fmt.Errorf("put job request: %w", err)
		}
		say("    %-22s %-9s %s", r.op, r.env, r.note)
		time.Sleep(150 * time.Millisecond)
	}
	say("")
	say("progress as the service reports it, and each event as jobwatch announces it:")
	return jobs, nil
}

// follow shows the jobs' progress until each is announced (or ctx ends),
// then the Slack posts and SNS messages that trail the last event.
func (d *demo) follow(ctx context.Context, p *progress, jobs []*Job) error {
	byRequest := map[string]*Job{}
	for _, j := range jobs {
		byRequest[j.RequestID] = j
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := 0; done < len(jobs); {
		p.refresh(d.emu, byRequest) // follow the jobs in the emulator for the progress table
		select {
		case <-ctx.Done():
			p.draw(true)
			return ctx.Err()
		case ev := <-d.events:
			j := byRequest[ev.Detail.RequestID]
			if j == nil || j.Event != nil {
				continue
			}
			j.Event, j.Status, j.JobID, j.LagSeconds = &ev.Detail, ev.Detail.Status, ev.Detail.JobID, lag(ev.Detail)
			done++
			p.announce(j)
		case n := <-d.notes:
			p.note(n.channel, n.text)
		case <-tick.C:
			p.draw(false)
		}
	}
	linger := time.After(3 * time.Second)
	for {
		select {
		case n := <-d.notes:
			p.note(n.channel, n.text)
		case <-linger:
			p.draw(true)
			return nil
		}
	}
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

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// redactedURL shows a webhook URL without its secret path.
func redactedURL(u string) string {
	if i := strings.Index(u, "/services/"); i >= 0 {
		return u[:i] + "/services/***"
	}
	return u
}

// sayMetrics tells what the functions' EMF metrics say of the run (what
// the stack's dashboard would show): jobs by outcome, detection lag, Admin
// API calls and throttles. A line that is not valid EMF is an error.
func sayMetrics(logPath string, say func(string, ...any)) error {
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, errs := metrics.ScanEMF(f)
	if len(errs) > 0 {
		return fmt.Errorf("the functions printed %d lines that are not valid EMF, the first: %w", len(errs), errs[0])
	}
	say("")
	say("metrics (%d EMF documents in the functions' logs, as CloudWatch would read them):", len(recs))
	for _, line := range metrics.Summarize(recs).Lines() {
		say("         %s", line)
	}
	return nil
}
