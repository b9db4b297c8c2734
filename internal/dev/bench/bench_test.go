package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// small is a workload that runs in well under a second per policy: 200
// jobs on 20 environments over 3 hours, with some that fail and some that
// get stuck (and time out after 30 minutes, not 6 hours).
func small() Workload {
	w := Standard()
	w.Jobs, w.Envs, w.Hours, w.StuckRate, w.FailRate = 200, 20, 3, 0.03, 0.05
	w.Deadline, w.WaitDeadline = 30*time.Minute, 30*time.Minute
	return w
}

func run(t *testing.T, opts Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

var smallRun struct {
	sync.Once
	rep *Report
	err error
}

// smallReport is a run of every policy over small(), shared by the tests
// that only read it.
func smallReport(t *testing.T) *Report {
	t.Helper()
	smallRun.Do(func() { smallRun.rep, smallRun.err = Run(context.Background(), Options{Workload: small()}) })
	if smallRun.err != nil {
		t.Fatalf("Run: %v", smallRun.err)
	}
	return smallRun.rep
}

func TestRunIsDeterministic(t *testing.T) {
	first, err := json.Marshal(smallReport(t))
	if err != nil {
		t.Fatal(err)
	}
	second, _ := json.Marshal(run(t, Options{Workload: small()}))
	if string(first) != string(second) {
		t.Errorf("two runs with seed 1 differ:\n%s\n%s", first, second)
	}
	w := small()
	w.Seed = 2
	third := run(t, Options{Workload: w, Policies: []string{"jobwatch"}})
	if reflect.DeepEqual(third.Policies[0].Ended, smallReport(t).Policies[3].Ended) && third.Policies[0].GetBackendJob == smallReport(t).Policies[3].GetBackendJob {
		t.Error("seed 2 gave the same run as seed 1")
	}
}

// TestEveryJobEndsOnce checks the ledger of every policy: each request
// ends exactly once, with the status its job called for, and only the
// hinted policy sends duplicates.
func TestEveryJobEndsOnce(t *testing.T) {
	w := small()
	rep := smallReport(t)
	if len(rep.Policies) != len(Policies()) {
		t.Fatalf("%d policies in the report, want %d", len(rep.Policies), len(Policies()))
	}
	reqs := w.requests()
	var stuck, fails int
	for _, r := range reqs {
		switch {
		case r.stuck, r.duration > w.Deadline: // a job still running at the deadline is TIMED_OUT
			stuck++
		case r.fails:
			fails++
		}
	}
	if stuck == 0 || fails == 0 {
		t.Fatalf("the workload has %d stuck and %d failing jobs; the test needs some of each", stuck, fails)
	}
	for _, p := range rep.Policies {
		t.Run(p.Name, func(t *testing.T) {
			e := p.Ended
			if sum := e.Completed + e.Failed + e.TimedOut + e.Lost; sum != w.Jobs || e.NotEnded != 0 {
				t.Errorf("ended %+v: %d of %d jobs", e, sum, w.Jobs)
			}
			if p.Mismatches != 0 || p.DuplicateConflicts != 0 {
				t.Errorf("%d status changes contradict the jobs, %d duplicates contradict the first", p.Mismatches, p.DuplicateConflicts)
			}
			if e.Failed != fails {
				t.Errorf("%d FAILED, want %d", e.Failed, fails)
			}
			// A stuck request may time out waiting behind another one.
			if e.TimedOut-e.TimedOutWaiting > stuck || e.TimedOut < stuck {
				t.Errorf("%d jobs TIMED_OUT and %d requests waiting, want the %d stuck ones", e.TimedOut-e.TimedOutWaiting, e.TimedOutWaiting, stuck)
			}
			if p.LaggedJobs != e.Completed+e.Failed {
				t.Errorf("lag over %d jobs, want the %d that completed or failed", p.LaggedJobs, e.Completed+e.Failed)
			}
			if p.Duplicates != 0 {
				t.Errorf("%d duplicate status changes", p.Duplicates)
			}
			if p.PollItemFailures != 0 || p.HintErrors != 0 || p.HintRequeues != 0 {
				t.Errorf("%d poll failures, %d hint errors, %d hint re-queues", p.PollItemFailures, p.HintErrors, p.HintRequeues)
			}
			if p.Invocations.Notify == 0 || p.Invocations.Submit < w.Jobs || p.EventBridgeEvents < 2*w.Jobs {
				t.Errorf("invocations %+v, %d events", p.Invocations, p.EventBridgeEvents)
			}
		})
	}
}

// oneJob is a workload of n jobs of one operation that each run exactly
// d, on their own environments.
func oneJob(n int, d time.Duration) Workload {
	w := Standard()
	w.Jobs, w.Envs, w.Hours, w.Sigma, w.StuckRate, w.HintShare = n, n*50, 1, 0, 0, 0
	w.Operations = []OperationMix{{"UpdateBackendAPI", d}}
	return w
}

// TestLagFromJobEnd: a job that runs 65 s, looked up every 10 s from 10 s
// after submission, is found COMPLETED at 70 s: 5 s after its end.
func TestLagFromJobEnd(t *testing.T) {
	rep := run(t, Options{Workload: oneJob(1, 65*time.Second), Policies: []string{"fixed-10s"}})
	p := rep.Policies[0]
	for _, lag := range []float64{p.LagP50Seconds, p.LagP95Seconds, p.LagP99Seconds, p.LagMaxSeconds} {
		if lag != 5 {
			t.Errorf("lags %v/%v/%v/%v s, want 5 s", p.LagP50Seconds, p.LagP95Seconds, p.LagP99Seconds, p.LagMaxSeconds)
			break
		}
	}
	if p.GetBackendJob != 7 || p.APICallsPerJob != 7 {
		t.Errorf("%d lookups (%.1f a job), want 7: at 10, 20, … 70 s", p.GetBackendJob, p.APICallsPerJob)
	}
}

// TestStuckJobsTimeOut: a stuck job ends TIMED_OUT when the deadline
// passes, counts its lookups and no lag, and its environment is freed.
func TestStuckJobsTimeOut(t *testing.T) {
	w := oneJob(3, time.Minute)
	w.StuckRate = 1
	s := newSim(context.Background(), w, w.requests(), schedule.Fixed{Interval: time.Minute}, nil)
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
	r := s.result("fixed-1m", false)
	if r.Ended.TimedOut != 3 || r.LaggedJobs != 0 || r.LagMaxSeconds != 0 || r.StuckReleased != 3 {
		t.Errorf("ended %+v, %d lagged (max %v s), %d released; want 3 TIMED_OUT, no lag, 3 released", r.Ended, r.LaggedJobs, r.LagMaxSeconds, r.StuckReleased)
	}
	if r.StillRunning != 3 || r.EventBridgeEvents != 3+3+3 {
		t.Errorf("%d STILL_RUNNING warnings, %d events; want one warning per job, 9 events (request, warning, end)", r.StillRunning, r.EventBridgeEvents)
	}
	for i, st := range s.state {
		if ran := epoch.Add(st.detected).Sub(st.created); ran < w.Deadline || ran > w.Deadline+time.Second {
			t.Errorf("job %d declared TIMED_OUT after %v, want at the %v deadline", i, ran, w.Deadline)
		}
	}
	// First lookup at 10 s, then every minute to the deadline.
	if want := 3 * (1 + int((w.Deadline-10*time.Second)/time.Minute) + 1); r.GetBackendJob != want {
		t.Errorf("%d lookups, want %d", r.GetBackendJob, want)
	}
}

// TestQueueLimits sends through the simulated SQS as poll does: delays up
// to 900 s are honoured, longer ones refused, at most 10 entries a call,
// and the event source mapping hands over at most 10 messages a batch.
func TestQueueLimits(t *testing.T) {
	w := oneJob(1, time.Minute)
	s := newSim(context.Background(), w, nil, schedule.Fixed{Interval: time.Minute}, nil)
	type delivery struct {
		at time.Duration
		n  int
	}
	var got []delivery
	s.delivered = func(q queueID, at time.Duration, batch []*message) {
		if q == waitingQueue {
			got = append(got, delivery{at, len(batch)})
		}
	}
	wake, _ := json.Marshal(contract.Wakeup{Version: 1, AppID: "dapp000", BackendEnvironmentName: "env0"})
	entries := func(n int, delay int32) []sqstypes.SendMessageBatchRequestEntry {
		var es []sqstypes.SendMessageBatchRequestEntry
		for i := range n {
			es = append(es, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(string(wake)), DelaySeconds: delay})
		}
		return es
	}
	send := func(es []sqstypes.SendMessageBatchRequestEntry) (*sqs.SendMessageBatchOutput, error) {
		return s.queues.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL(waitingQueue)), Entries: es})
	}
	for _, n := range []int{10, 10, 5} {
		if out, err := send(entries(n, 900)); err != nil || len(out.Successful) != n {
			t.Fatalf("send %d with DelaySeconds 900: %v %+v", n, err, out)
		}
	}
	if out, err := send(entries(1, 0)); err != nil || len(out.Successful) != 1 {
		t.Fatalf("send with DelaySeconds 0: %v", err)
	}
	out, err := send(entries(1, 901))
	if err != nil || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "InvalidParameterValue" {
		t.Errorf("DelaySeconds 901: %v %+v, want the entry refused", err, out)
	}
	var tooMany *sqstypes.TooManyEntriesInBatchRequest
	if _, err := send(entries(11, 0)); !errors.As(err, &tooMany) {
		t.Errorf("11 entries: %v, want TooManyEntriesInBatchRequest", err)
	}
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
	want := []delivery{{0, 1}, {900 * time.Second, 10}, {900 * time.Second, 10}, {900 * time.Second, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
	c := s.queues.counts[waitingQueue]
	if c.SendCalls != 5 || c.Receives != 4 || c.Deletes != 4 || s.c.submitInvocations != 4 {
		t.Errorf("counted %+v and %d invocations, want 5 sends, 4 receives, 4 deletes, 4 invocations", c, s.c.submitInvocations)
	}
}

// TestAdminAPI checks the lookups poll sees: what the service would
// answer, NotFound for an unknown job, pages newest first.
func TestAdminAPI(t *testing.T) {
	clock := emulator.NewManualClock(epoch)
	jobs := emulator.NewJobs(emulator.JobsConfig{Clock: clock, Durations: emulator.FixedDurations(time.Minute, nil)})
	api := &adminAPI{jobs: jobs, clock: clock, times: map[string]*jobTimes{}}
	var ids []string
	for range 30 {
		j, err := jobs.Create("d1", "dev", "UpdateBackendAPI")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.JobId)
		clock.Advance(2 * time.Minute)
	}
	ctx := context.Background()
	got, err := api.GetBackendJob(ctx, &amplify.GetBackendJobInput{AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), JobId: aws.String(ids[0])})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Status) != "COMPLETED" || aws.ToString(got.CreateTime) != "2026-11-25T00:00:00.000Z" || aws.ToString(got.UpdateTime) != "2026-11-25T00:01:00.000Z" {
		t.Errorf("GetBackendJob = %v", got)
	}
	var nf *types.NotFoundException
	if _, err := api.GetBackendJob(ctx, &amplify.GetBackendJobInput{AppId: aws.String("d1"), BackendEnvironmentName: aws.String("prod"), JobId: aws.String(ids[0])}); !errors.As(err, &nf) {
		t.Errorf("a job of another environment: %v, want NotFound", err)
	}
	page, err := api.ListBackendJobs(ctx, &amplify.ListBackendJobsInput{AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), MaxResults: aws.Int32(25)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 25 || aws.ToString(page.Jobs[0].JobId) != ids[29] || page.NextToken == nil {
		t.Fatalf("first page: %d jobs, first %s, token %v; want 25, newest first, a token", len(page.Jobs), aws.ToString(page.Jobs[0].JobId), page.NextToken)
	}
	rest, err := api.ListBackendJobs(ctx, &amplify.ListBackendJobsInput{AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), NextToken: page.NextToken})
	if err != nil || len(rest.Jobs) != 5 || aws.ToString(rest.Jobs[4].JobId) != ids[0] || rest.NextToken != nil {
		t.Errorf("second page: %v %d jobs", err, len(rest.Jobs))
	}
	if api.gets != 2 || api.lists != 2 {
		t.Errorf("counted %d gets and %d lists, want 2 and 2", api.gets, api.lists)
	}
}

// TestHintPath: the simulation hands hints to poll's hint path, one per
// hinted job's end; it finds each job at once, and the job's own tracking
// message, coming due later, is dropped without a lookup. The policy looks
// up hourly, so that only hints find the ends.
func TestHintPath(t *testing.T) {
	w := oneJob(20, 10*time.Minute)
	w.HintShare, w.HintDelay = 1, 5*time.Second
	var hints []Hint
	counting := func(d Deployment) Hinter {
		inner := PollHints(d)
		return HinterFunc(func(ctx context.Context, h Hint) error {
			hints = append(hints, h)
			return inner.Hint(ctx, h)
		})
	}
	hourly := CustomPolicy{New: func() schedule.Policy { return schedule.Fixed{Interval: time.Hour} }, Hints: true}
	rep := run(t, Options{Workload: w, Custom: []CustomPolicy{hourly}, Hints: counting})
	p := rep.Policies[0]
	if len(hints) != 20 || p.Invocations.Hint != 20 {
		t.Fatalf("%d hints, %d hint invocations; want 20", len(hints), p.Invocations.Hint)
	}
	if p.LagMaxSeconds != 5 || p.Ended.Completed != 20 {
		t.Errorf("max lag %v s, %d completed; want 5 s (the hint delay), 20", p.LagMaxSeconds, p.Ended.Completed)
	}
	// Each job: the first lookup and the hint's; its message is dropped.
	if p.Duplicates != 0 || p.LookupsAfterEnd != 0 || p.GetBackendJob != 40 {
		t.Errorf("%d duplicates, %d lookups after the end, %d lookups; want 0, 0, 40", p.Duplicates, p.LookupsAfterEnd, p.GetBackendJob)
	}
}

func TestWorkloadCheck(t *testing.T) {
	tests := map[string]struct {
		change func(*Workload)
		want   string
	}{
		"no jobs":         {func(w *Workload) { w.Jobs = 0 }, "jobs"},
		"negative sigma":  {func(w *Workload) { w.Sigma = -1 }, "sigma"},
		"no environments": {func(w *Workload) { w.Envs = 0 }, "envs"},
		"no hours":        {func(w *Workload) { w.Hours = 0 }, "hours"},
		"stuck rate 2":    {func(w *Workload) { w.StuckRate = 2 }, "stuck-rate"},
		"hint share -1":   {func(w *Workload) { w.HintShare = -1 }, "hint-share"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := Standard()
			tc.change(&w)
			if err := w.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if err := Standard().Check(); err != nil {
		t.Errorf("the standard workload: %v", err)
	}
	if _, err := Run(context.Background(), Options{Workload: small(), Policies: []string{"fixed-1s"}}); err == nil || !strings.Contains(err.Error(), "fixed-1s") {
		t.Errorf("unknown policy: %v", err)
	}
}

func TestPlot(t *testing.T) {
	rep := run(t, Options{Workload: oneJob(5, time.Minute), Policies: []string{"fixed-10s", "jobwatch"}})
	file := filepath.Join(t.TempDir(), "bench.png")
	if err := Plot(rep, file); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("the plot is not a PNG: %v", err)
	}
}
