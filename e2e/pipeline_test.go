// Package e2e runs the whole pipeline on one machine: the template's
// resources in moto, the Admin API emulator with faults on, and the three
// functions' real bootstraps under the Lambda Runtime Interface Emulator,
// driven the way Lambda's event sources drive them.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const appID = "d1abc23"

type pipeline struct {
	t      *testing.T
	ctx    context.Context
	emu    *emulator.Server
	st     *devstack.State
	stack  *devstack.Stack
	sqs    *sqs.Client
	eb     *eventbridge.Client
	events chan devstack.Event // every status change on the bus
	logs   *testenv.Buffer
}

// startPipeline stands the template up in moto with short local timings,
// builds the functions and runs them under the Runtime Interface Emulator,
// as jobwatch local up and local start do.
func startPipeline(t *testing.T, faults emulator.Faults, durations emulator.DurationFunc, env map[string]string) *pipeline {
	t.Helper()
	if testing.Short() {
		t.Skip("end to end")
	}
	// Building the functions may take minutes on a busy machine: it has
	// its own time, apart from the pipeline's.
	setup, cancelSetup := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancelSetup()
	emu, err := emulator.Start(emulator.Config{Seed: 7, Faults: faults, JobDurations: durations,
		State: &emulator.State{Apps: []emulator.StateApp{{AppId: appID, AppName: "demo", Environments: []string{"dev", "staging", "prod", "qa"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	fnEnv := map[string]string{
		// Local timings: seconds where the deployed defaults are minutes.
		"INITIAL_POLL_DELAY": "1s", "WAIT_RETRY_DELAY": "2s", "NOT_FOUND_GRACE": "5s", "POLL_POLICY": "fixed-2s",
	}
	maps.Copy(fnEnv, env)
	st, err := devstack.Up(setup, devstack.UpOptions{Template: "../template.yaml", StackName: testenv.Name(t, "e2e"),
		Moto: testenv.Moto(t), Emulator: devstack.Server{Endpoint: emu.URL},
		Parameters:        map[string]string{"AllowedAppIds": appID, "JobDeadline": "25s", "LogLevel": "DEBUG"},
		VisibilityTimeout: 3 * time.Second, Env: fnEnv})
	if st != nil {
		t.Cleanup(func() { _ = st.Down(context.Background()) })
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, emu: emu, st: st, stack: st.Stack, sqs: sqs.NewFromConfig(st.AWS()),
		eb: eventbridge.NewFromConfig(st.AWS()), events: make(chan devstack.Event, 100), logs: &testenv.Buffer{}}
	run, err := devstack.Start(setup, st, devstack.StartOptions{BuildDir: t.TempDir(), Logs: p.logs, RetryDelay: 200 * time.Millisecond,
		Observe: devstack.Observer{OnEvent: func(ev devstack.Event) { p.events <- ev }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	p.ctx = ctx
	t.Cleanup(func() {
		go func() { // the observer may wait on a full channel
			for range p.events {
			}
		}()
		run.Close()
		close(p.events)
		if t.Failed() {
			t.Logf("function logs:\n%s", p.logs.String())
		}
	})
	return p
}

// request puts a job request on the bus, as a user or another system does.
func (p *pipeline) request(requestID, operation, input string) {
	p.t.Helper()
	detail := fmt.Sprintf(`{"operation":%q,"input":%s,"requestId":%q}`, operation, input, requestID)
	out, err := p.eb.PutEvents(p.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(p.stack.Buses["EventBus"].Name), Source: aws.String("e2e.test"),
		DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(detail),
	}}})
	if err != nil || out.FailedEntryCount != 0 {
		p.t.Fatalf("put job request: %v %+v", err, out)
	}
}

// collect reads status-change events until every key in want has one,
// then keeps reading briefly to catch duplicates.
func (p *pipeline) collect(want []string, timeout time.Duration) map[string][]devstack.Event {
	p.t.Helper()
	got := map[string][]devstack.Event{}
	deadline := time.After(timeout)
	var quiet <-chan time.Time
	for {
		select {
		case ev := <-p.events:
			got[ev.Detail.EventKey] = append(got[ev.Detail.EventKey], ev)
			if quiet == nil && hasAll(got, want) {
				quiet = time.After(4 * time.Second)
			}
		case <-quiet:
			return got
		case <-deadline:
			return got
		}
	}
}

func hasAll(got map[string][]devstack.Event, want []string) bool {
	for _, k := range want {
		if len(got[k]) == 0 {
			return false
		}
	}
	return true
}

// waitLog waits until a log line about request id says one of what.
func (p *pipeline) waitLog(id string, what ...string) {
	p.t.Helper()
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, line := range strings.Split(p.logs.String(), "\n") {
			if !strings.Contains(line, `"jobRequestId":"`+id+`"`) {
				continue
			}
			for _, w := range what {
				if strings.Contains(line, w) {
					return
				}
			}
		}
	}
	p.t.Fatalf("no log line says request %s %q", id, what)
}

// jobOf finds the job the emulator started for an operation on an env.
func (p *pipeline) jobsOf(env string) []emulator.Job {
	jobs, _ := p.emu.Jobs().List(appID, env, emulator.JobFilter{}, 0, 100)
	slices.Reverse(jobs) // oldest first
	return jobs
}

// waitJob waits until the emulator has a job for env and returns its id.
func (p *pipeline) waitJob(env, operation string) string {
	p.t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, j := range p.jobsOf(env) {
			if j.Operation == operation {
				return j.JobId
			}
		}
	}
	p.t.Fatalf("no %s job on %s", operation, env)
	return ""
}

// waitJobStatus waits until the emulator's job id on env has status.
func (p *pipeline) waitJobStatus(env, id, status string) {
	p.t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, j := range p.jobsOf(env) {
			if j.JobId == id && j.Status == status {
				return
			}
		}
	}
	p.t.Fatalf("job %s on %s is not %s", id, env, status)
}

func (p *pipeline) depth(queueID string) int {
	n, err := p.st.Depth(p.ctx, p.stack.Queues[queueID].URL)
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// TestPipeline submits jobs through the bus and checks one status-change
// event per job for every outcome, with the emulator throttling and timing
// out, a request queued behind a pending job completing in order, and bad
// input reaching a dead-letter queue.
func TestPipeline(t *testing.T) {
	durations := emulator.FixedDurations(2*time.Second, map[string]time.Duration{
		"CreateBackendStorage": time.Hour, // outlives the 25 s deadline
		"CreateBackendAuth":    20 * time.Second,
	})
	p := startPipeline(t, emulator.Faults{ThrottleRate: 0.2, ErrorRate: 0.05, NotFoundWindow: time.Second}, durations, nil)
	p.submitOutcomes()
	want := p.expectedOutcomes()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	got := p.collect(keys, 120*time.Second)
	checkEvents(t, got, want)
	authFailed := contract.EventKey(appID, "staging", p.waitJob("staging", "CreateBackendAuth"), "", "FAILED")
	if ev := got[authFailed]; len(ev) > 0 && ev[0].Detail.Error == "" {
		t.Errorf("FAILED event without the job's error: %+v", ev[0].Detail)
	}
	p.checkBadInput()
	t.Logf("emulator calls: %+v", p.emu.Stats())
}

// prodRequests are three requests for one environment: the second and
// third wait their turn and must start in arrival order.
var prodRequests = []struct{ op, input string }{
	{"CreateBackendAPI", `{"AppId":"d1abc23","BackendEnvironmentName":"prod","ResourceName":"api1","ResourceConfig":{"ApiName":"api1","Service":"AppSync"}}`},
	{"CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"prod","TargetEnvironmentName":"prodcopy"}`},
	{"CreateBackendAPI", `{"AppId":"d1abc23","BackendEnvironmentName":"prod","ResourceName":"api2","ResourceConfig":{"ApiName":"api2","Service":"AppSync"}}`},
}

// submitOutcomes puts on the bus a request for each outcome, the line of
// prod requests and one refused request; it makes the auth job fail and
// sends a tracking message for a job the service lost and a malformed one.
func (p *pipeline) submitOutcomes() {
	t := p.t
	p.request("r-clone", "CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"prone"}`)
	p.request("r-auth", "CreateBackendAuth", `{"AppId":"d1abc23","BackendEnvironmentName":"staging","ResourceName":"auth","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO","UserPoolConfigs":{"RequiredSignUpAttributes":["EMAIL"],"SignInMethod":"EMAIL","UserPoolName":"pool","OAuth":{"OAuthGrantType":"CODE","OAuthScopes":["EMAIL"],"RedirectSignInURIs":["https://a.example/"],"RedirectSignOutURIs":["https://a.example/"],"SocialProviderSettings":{"Google":{"ClientId":"g","ClientSecret":"TOPSECRET-e2e"}}}}}}`)
	p.request("r-storage", "CreateBackendStorage", `{"AppId":"d1abc23","BackendEnvironmentName":"qa","ResourceName":"files","ResourceConfig":{"ServiceName":"S3","Permissions":{"Authenticated":["READ"]}}}`)
	// Each prod request arrives once the one before it started its job or
	// joined the line: submit receives job requests side by side, as
	// Lambda invokes them, so the line's order is the order they arrive.
	for i, r := range prodRequests {
		id := fmt.Sprintf("r-prod-%d", i)
		p.request(id, r.op, r.input)
		p.waitLog(id, "job submitted", "waits in line")
	}
	p.request("r-bad", "GetBackendJob", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","JobId":"x"}`)

	// The auth job fails: the service reports FAILED with an error.
	authJob := p.waitJob("staging", "CreateBackendAuth")
	if _, err := p.emu.Jobs().Update(appID, "staging", authJob, emulator.JobUpdate{Status: "FAILED"}); err != nil {
		t.Fatal(err)
	}
	// A job the service lost: tracked, but unknown to it long after
	// submission; and a malformed tracking message, which must end in the
	// jobs DLQ.
	lost := contract.TrackingMessage{Version: 1, AppID: appID, BackendEnvironmentName: "dev", JobID: "vanished-job", Operation: "CloneBackend",
		RequestID: "r-lost", SubmittedAt: time.Now().Add(-time.Hour), Deadline: time.Now().Add(time.Hour)}
	body, _ := json.Marshal(lost)
	for _, b := range []string{string(body), `{"v":1,"appId":"d1abc23"`} {
		if _, err := p.sqs.SendMessage(p.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.stack.Queues["JobsQueue"].URL), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

// expectedOutcomes is the status change each job must get, by event key;
// it waits for the prod jobs, which exist only once their turn came, and
// checks they started in the requests' order.
func (p *pipeline) expectedOutcomes() map[string]string {
	want := map[string]string{
		contract.EventKey(appID, "dev", p.waitJob("dev", "CloneBackend"), "", "COMPLETED"):           "COMPLETED",
		contract.EventKey(appID, "staging", p.waitJob("staging", "CreateBackendAuth"), "", "FAILED"): "FAILED",
		contract.EventKey(appID, "qa", p.waitJob("qa", "CreateBackendStorage"), "", "TIMED_OUT"):     "TIMED_OUT",
		contract.EventKey(appID, "dev", "vanished-job", "", "LOST"):                                  "LOST",
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(p.jobsOf("prod")) < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	prodJobs := p.jobsOf("prod")
	if len(prodJobs) != 3 {
		p.t.Fatalf("prod jobs = %+v, want 3", prodJobs)
	}
	if got := []string{prodJobs[0].Operation, prodJobs[1].Operation, prodJobs[2].Operation}; !slices.Equal(got, []string{"CreateBackendAPI", "CloneBackend", "CreateBackendAPI"}) {
		p.t.Errorf("prod jobs started in order %v, want the requests' order", got)
	}
	for _, j := range prodJobs {
		want[contract.EventKey(appID, "prod", j.JobId, "", "COMPLETED")] = "COMPLETED"
	}
	return want
}

// checkEvents checks exactly one event of the right shape per wanted key,
// and no other.
func checkEvents(t *testing.T, got map[string][]devstack.Event, want map[string]string) {
	t.Helper()
	for k, status := range want {
		evs := got[k]
		switch {
		case len(evs) == 0:
			t.Errorf("no %s event for %s", status, k)
			continue
		case len(evs) > 1:
			t.Errorf("%d events for %s, want exactly one", len(evs), k)
		}
		ev := evs[0]
		if ev.Detail.Status != status || ev.DetailType != contract.DetailTypeStatusChange || ev.Source != contract.DefaultEventSource ||
			len(ev.Resources) != 1 || !strings.HasSuffix(ev.Resources[0], "/job/"+ev.Detail.JobID) {
			t.Errorf("event %s = %+v", k, ev)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected event %s: %+v", k, got[k])
		}
	}
}

// checkBadInput checks that the malformed tracking message reaches the
// jobs DLQ with a log line naming it, the refused request the
// submit-failures destination, and no secret the logs.
func (p *pipeline) checkBadInput() {
	t := p.t
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end) && (p.depth("JobsDeadLetterQueue") == 0 || p.depth("SubmitFailuresQueue") == 0); {
		time.Sleep(500 * time.Millisecond)
	}
	if n := p.depth("JobsDeadLetterQueue"); n != 1 {
		t.Errorf("jobs DLQ holds %d messages, want the malformed one", n)
	}
	if n := p.depth("SubmitFailuresQueue"); n != 1 {
		t.Errorf("submit-failures queue holds %d records, want the refused request", n)
	}
	logs := p.logs.String()
	if !strings.Contains(logs, "malformed tracking message") {
		t.Error("no log line names the malformed tracking message")
	}
	if !strings.Contains(logs, "GetBackendJob starts no backend job") {
		t.Error("no log line says why the GetBackendJob request was refused")
	}
	if strings.Contains(logs, "TOPSECRET") {
		t.Error("a client secret reached the logs")
	}
}
