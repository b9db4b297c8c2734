package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
	"github.com/jobwatch/jobwatch/internal/sweep"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const app = "d1abc23"

// fixture is a sweep's world: the Admin API emulator with one app, moto's
// queues and state table.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	emu     *emulator.Server
	api     *amplify.Client
	sqs     *sqs.Client
	db      *dynamodb.Client
	table   string
	store   *state.Store
	cfg     sweep.Config
	emf     *testenv.Buffer
	started time.Time // when the fixture was made, on the emulator's (real) clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: testenv.Context(t), emf: &testenv.Buffer{}, started: time.Now()}
	cfg := testenv.AWSConfig(testenv.Moto(t))
	emu, err := emulator.Start(emulator.Config{Seed: 3, JobDurations: emulator.FixedDurations(time.Hour, nil),
		State: &emulator.State{Apps: []emulator.StateApp{{AppId: app, AppName: "demo", Environments: []string{"dev", "staging", "prod"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	f.emu = emu
	f.api = amplify.New(amplify.Options{Region: "us-east-1", BaseEndpoint: aws.String(emu.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	f.db, f.table = testenv.Table(t, "state")
	f.store = state.New(f.db, f.table, state.Options{})
	f.sqs = sqs.NewFromConfig(cfg)
	c, err := sweep.ReadConfig(settings.FromMap(map[string]string{
		"ALLOWED_APP_IDS": app, "JOBS_QUEUE_URL": f.queue("jobs"), "WAITING_QUEUE_URL": f.queue("waiting"),
		"STATE_TABLE": f.table, "INITIAL_POLL_DELAY": "0", "METRICS_NAMESPACE": "jobwatch-test",
	}))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = c
	return f
}

func (f *fixture) queue(prefix string) string {
	f.t.Helper()
	out, err := f.sqs.CreateQueue(f.ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(f.t, prefix))})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// sweeper is a Sweeper whose clock runs ahead by ahead, over the given
// SQS client and table client (the fixture's when nil).
func (f *fixture) sweeper(ahead time.Duration, q queue.API, db state.Client) *sweep.Sweeper {
	if q == nil {
		q = f.sqs
	}
	store := f.store
	if db != nil {
		store = state.New(db, f.table, state.Options{Now: func() time.Time { return time.Now().Add(ahead) }})
	}
	return sweep.New(f.cfg, sweep.Clients{AdminAPI: f.api, SQS: q, State: store, Metrics: metrics.New(f.emf, f.cfg.MetricsNamespace)},
		func() time.Time { return time.Now().Add(ahead) }, nil)
}

// start starts a job on env outside jobwatch: a CloneBackend, or with
// api set a CreateBackendAPI.
func (f *fixture) start(env string, api bool) string {
	f.t.Helper()
	op, input := "CloneBackend", `{"AppId":"`+app+`","BackendEnvironmentName":"`+env+`","TargetEnvironmentName":"`+env+`copy"}`
	if api {
		op, input = "CreateBackendAPI", `{"AppId":"`+app+`","BackendEnvironmentName":"`+env+`","ResourceName":"api","ResourceConfig":{"ApiName":"api","Service":"AppSync"}}`
	}
	o, err := amplify.LookupOperation(op)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := o.Invoke(f.ctx, f.api, []byte(input))
	if err != nil {
		f.t.Fatal(err)
	}
	var v struct{ JobId string }
	if err := json.Unmarshal(out, &v); err != nil || v.JobId == "" {
		f.t.Fatalf("%s answered %s, %v", op, out, err)
	}
	return v.JobId
}

// tracking takes the tracking messages off the jobs queue.
func (f *fixture) tracking() []contract.TrackingMessage {
	f.t.Helper()
	var out []contract.TrackingMessage
	for _, b := range f.take(f.cfg.JobsQueueURL) {
		m, err := contract.DecodeTrackingMessage([]byte(b))
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// take receives and deletes the visible messages of a queue.
func (f *fixture) take(queueURL string) []string {
	f.t.Helper()
	out, err := f.sqs.ReceiveMessage(f.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
		if _, err := f.sqs.DeleteMessage(f.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			f.t.Fatal(err)
		}
	}
	return bodies
}

// editLine changes the line of env in the state table.
func (f *fixture) editLine(env string, change func(*state.Line)) {
	f.t.Helper()
	l, err := f.store.Line(f.ctx, app, env)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.EditLine(f.ctx, l, func(x *state.Line) (bool, error) { change(x); return true, nil }); err != nil {
		f.t.Fatal(err)
	}
}

// TestSweep starts jobs outside jobwatch on the emulator, one of them
// already tracked, and checks a sweep starts tracking exactly the others —
// found through GetBackend's environments and ListBackendJobs' pages — and
// a second sweep nothing more.
func TestSweep(t *testing.T) {
	f := newFixture(t)
	jobs := []string{f.start("dev", false), f.start("staging", false)}
	// The staging job is jobwatch's own: submit already tracks it.
	if _, err := f.store.TrackJob(f.ctx, contract.TrackingMessage{Version: 1, AppID: app, BackendEnvironmentName: "staging", JobID: jobs[1],
		Operation: "CloneBackend", SubmittedAt: time.Now(), Deadline: time.Now().Add(time.Hour)}, "submit"); err != nil {
		t.Fatal(err)
	}
	// Jobs younger than MinAge: left to the next sweep.
	if res, err := f.sweeper(0, nil, nil).Sweep(f.ctx); err != nil || res.Young != 2 || res.Started != 0 {
		t.Fatalf("sweep of young jobs = %+v, %v; want both left alone", res, err)
	}
	s := f.sweeper(f.cfg.MinAge, nil, nil)
	res, err := s.Sweep(f.ctx)
	if err != nil || res.Environments < 3 || res.Running != 2 || res.Started != 1 {
		t.Fatalf("first sweep = %+v, %v; want 2 running jobs, 1 started", res, err)
	}
	tr := f.tracking()
	if len(tr) != 1 || tr[0].JobID != jobs[0] || tr[0].BackendEnvironmentName != "dev" || tr[0].Operation != "CloneBackend" || tr[0].CreateTime == "" {
		t.Errorf("tracking messages = %+v", tr)
	}
	if res, err := s.Sweep(f.ctx); err != nil || res.Started != 0 {
		t.Errorf("second sweep = %+v, %v; want nothing new", res, err)
	}
	// A clone found by the sweep: ListBackendJobs does not tell the
	// environment it creates, so no stack's status change is known to
	// announce it (its own lookups do); it is in no running set.
	if running, _ := f.store.RunningJobs(f.ctx, app, "dev"); len(running) != 0 {
		t.Errorf("running on dev = %v; want none", running)
	}
}

// failingSQS fails every send.
type failingSQS struct{ queue.API }

func (failingSQS) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, errors.New("sqs unavailable (test)")
}

// failingDeletes fails every DeleteItem.
type failingDeletes struct{ state.Client }

func (failingDeletes) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errors.New("dynamodb unavailable (test)")
}

// A sweep that claims a job and then fails both to send its tracking
// message and to release the claim does not leak it: the claim's lease
// runs out, and a later sweep takes the job over and tracks it.
func TestSweepClaimLeak(t *testing.T) {
	f := newFixture(t)
	job := f.start("dev", false)
	ahead := f.cfg.MinAge
	if _, err := f.sweeper(ahead, failingSQS{}, failingDeletes{f.db}).Sweep(f.ctx); err == nil {
		t.Fatal("a sweep that could not send succeeded")
	}
	if res, err := f.sweeper(ahead, nil, nil).Sweep(f.ctx); err != nil || res.Started != 0 {
		t.Fatalf("sweep within the lease = %+v, %v; want the claim respected", res, err)
	}
	// The failed sweep's lease has run out: the job is taken over.
	f.sweepTracks(f.sweeper(ahead+10*time.Minute, nil, f.db), job)
}

// sweepTracks runs a sweep and expects it to start tracking exactly the
// jobs want, one tracking message each.
func (f *fixture) sweepTracks(s *sweep.Sweeper, want ...string) sweep.Result {
	f.t.Helper()
	res, err := s.Sweep(f.ctx)
	if err != nil || res.Started != len(want) {
		f.t.Fatalf("sweep = %+v, %v; want %d started", res, err, len(want))
	}
	var got []string
	for _, m := range f.tracking() {
		got = append(got, m.JobID)
	}
	if !slices.Equal(got, want) {
		f.t.Errorf("tracked %v, want %v", got, want)
	}
	return res
}

// The sweep never adopts a job a request may have started: while a
// request of the environment is starting (its marker on the line), the
// running jobs of its operation created since its StartingAt less the
// clock-skew allowance are left to it; other operations' are tracked.
func TestSweepLeavesReconcilingJobs(t *testing.T) {
	f := newFixture(t)
	clone := f.start("dev", false)
	f.editLine("dev", func(l *state.Line) {
		l.Mark(state.StartMarker{RequestID: "r-1", Operation: "CloneBackend", At: f.started})
	})
	other := f.start("staging", true)
	f.editLine("staging", func(l *state.Line) {
		l.Mark(state.StartMarker{RequestID: "r-2", Operation: "CloneBackend", At: f.started})
	})
	s := f.sweeper(f.cfg.MinAge, nil, nil)
	// The CloneBackend is left to r-1, the CreateBackendAPI tracked.
	if res := f.sweepTracks(s, other); res.Reconciling != 1 {
		t.Errorf("sweep = %+v, want 1 job left to a request reconciling", res)
	}
	f.editLine("dev", func(l *state.Line) { l.Unmark("r-1") })
	f.sweepTracks(s, clone)
}

// A line with requests waiting, no job running and no wake-up due gets
// one from the sweep; one with a wake-up on its way, or a job whose end
// will wake it, does not.
func TestSweepRestartsLines(t *testing.T) {
	f := newFixture(t)
	waiting := func(l *state.Line) {
		l.Entries = append(l.Entries, state.LineEntry{RequestID: "r-w", Request: state.WaitingRequest{Operation: "CloneBackend", Input: "{}"}})
	}
	f.editLine("dev", waiting) // lost its wake-up
	f.editLine("staging", func(l *state.Line) {
		waiting(l)
		l.WakeID, l.WakeAt = "w-1", time.Now().UnixMilli() // one on its way
	})
	f.editLine("prod", waiting)
	f.start("prod", false) // a running job: its end wakes the line
	res, err := f.sweeper(0, nil, nil).Sweep(f.ctx)
	if err != nil || res.Restarted != 1 {
		t.Fatalf("sweep = %+v, %v; want the dev line restarted", res, err)
	}
	got := f.take(f.cfg.WaitingQueueURL)
	if len(got) != 1 {
		t.Fatalf("wake-ups = %v, want one", got)
	}
	if w, err := contract.DecodeWakeup([]byte(got[0])); err != nil || w.AppID != app || w.BackendEnvironmentName != "dev" {
		t.Errorf("wake-up = %+v, %v; want one for %s/dev", w, err, app)
	}
	// The staging wake-up is overdue now: restarted too.
	if res, _ := f.sweeper(state.WakeGrace+time.Minute, nil, nil).Sweep(f.ctx); res.Restarted != 2 {
		t.Errorf("later sweep restarted %d lines, want dev and staging", res.Restarted)
	}
}

// A sweep whose listing fails counts the work put off (Backoffs) and
// writes its metrics at the end of the invocation.
func TestSweepMetrics(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.SetFaults(emulator.Faults{OutageFor: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sweeper(0, nil, nil).HandleLambda(f.ctx); err == nil {
		t.Fatal("a sweep during an outage succeeded")
	}
	recs, err := metrics.ParseEMF([]byte(f.emf.String()))
	if err != nil || len(recs) == 0 {
		t.Fatalf("metrics = %v, %v", recs, err)
	}
	r := recs[0]
	if r.Namespace != "jobwatch-test" || r.Dims["Function"] != "sweep" || r.Dims["Reason"] != "AdminApiUnavailable" || r.Values[metrics.Backoffs][0] != 1 {
		t.Errorf("metric = %+v, want one Backoff of the sweep for the Admin API", r)
	}
}

func TestReadConfig(t *testing.T) {
	_, err := sweep.ReadConfig(settings.FromMap(map[string]string{"LOG_LEVEL": "LOUD"}))
	for _, want := range []string{"ALLOWED_APP_IDS", "JOBS_QUEUE_URL", "WAITING_QUEUE_URL", "STATE_TABLE", "LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
}
