package soak

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/notify"
	"github.com/jobwatch/jobwatch/internal/submit"
)

// TestWorkload checks the requests the soak submits: unique ids, spread
// round-robin over the environments, each accepted by submit's checks and
// starting a job on a fresh emulator with the soak's state.
func TestWorkload(t *testing.T) {
	const n, envs = 40, 7
	reqs := workload(n, envs, 1)
	emu, err := emulator.Start(emulator.Config{State: emulatorState(envs)})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	client := amplify.New(amplify.Options{Region: "us-east-1", BaseEndpoint: aws.String(emu.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Retryer: aws.NopRetryer{}})
	ids := map[string]bool{}
	ops := map[string]bool{}
	for i, r := range reqs {
		if ids[r.ID] {
			t.Errorf("request id %s used twice", r.ID)
		}
		ids[r.ID] = true
		ops[r.Operation] = true
		if want := envName(i % envs); r.Env != want {
			t.Errorf("request %d on %s, want %s", i, r.Env, want)
		}
		jr, err := contract.DecodeJobRequest([]byte(r.detail()))
		if err != nil {
			t.Fatalf("request %s: %v", r.ID, err)
		}
		if err := submit.Check(jr); err != nil {
			t.Errorf("submit refuses request %s: %v", r.ID, err)
		}
		// One job at a time per environment: end the last one first.
		for _, j := range jobsOn(emu, r.Env) {
			if j.Status == amplify.JobStatusRunning {
				if _, err := emu.Jobs().Update(AppID, r.Env, j.JobId, emulator.JobUpdate{Status: amplify.JobStatusCompleted}); err != nil {
					t.Fatal(err)
				}
			}
		}
		op, _ := amplify.LookupOperation(r.Operation)
		if _, err := op.Invoke(context.Background(), client, []byte(r.Input)); err != nil {
			t.Errorf("the emulator refuses request %s (%s on %s): %v", r.ID, r.Operation, r.Env, err)
		}
	}
	if len(ops) != len(operations) {
		t.Errorf("%d requests used %d of the %d operations", n, len(ops), len(operations))
	}
	if again := workload(n, envs, 1); again[n-1] != reqs[n-1] {
		t.Error("the same seed drew another workload")
	}
}

func jobsOn(emu *emulator.Server, env string) []emulator.Job {
	jobs, _ := emu.Jobs().List(AppID, env, emulator.JobFilter{}, 0, 100)
	return jobs
}

// TestSinkKeys reads the event key back from what the sinks deliver, as
// notify builds it.
func TestSinkKeys(t *testing.T) {
	changes := map[string]contract.StatusChange{
		"job": {Version: 1, AppID: AppID, BackendEnvironmentName: "skaaaa", JobID: "j-1", Operation: "CloneBackend",
			Status: contract.StatusFailed, Error: "boom `x`", RequestID: "soak-00001", SubmittedAt: "2026-01-01T00:00:00.000Z", DetectedAt: "2026-01-01T00:01:00.000Z",
			EventKey: contract.EventKey(AppID, "skaaaa", "j-1", "soak-00001", contract.StatusFailed)},
		"no job": {Version: 1, AppID: AppID, BackendEnvironmentName: "skaaab", Operation: "CreateBackendAPI",
			Status: contract.StatusTimedOut, RequestID: "soak-00002", SubmittedAt: "2026-01-01T00:00:00.000Z", DetectedAt: "2026-01-01T00:03:00.000Z",
			EventKey: contract.EventKey(AppID, "skaaab", "", "soak-00002", contract.StatusTimedOut)},
	}
	for name, c := range changes {
		t.Run(name, func(t *testing.T) {
			msg, err := notify.SNSMessage(c, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := snsKey(msg); err != nil || got != c.EventKey {
				t.Errorf("snsKey = %q, %v; want %q", got, err, c.EventKey)
			}
			post, _ := json.Marshal(notify.SlackMessage(c, "us-east-1"))
			if got, err := slackKey(post); err != nil || got != c.EventKey {
				t.Errorf("slackKey = %q, %v; want %q", got, err, c.EventKey)
			}
		})
	}
	if _, err := snsKey("no key here"); err == nil {
		t.Error("snsKey found a key in a message without one")
	}
	if _, err := slackKey([]byte(`{"text":"hi"}`)); err == nil {
		t.Error("slackKey found a key in a post without one")
	}
}

// change is a bus event of request id for job jobID.
func change(id, jobID, status string) contract.StatusChange {
	return contract.StatusChange{RequestID: id, JobID: jobID, Status: status,
		EventKey: contract.EventKey(AppID, "skaaaa", jobID, id, status)}
}

// TestAudit checks what the ledger makes of deliveries: requests without a
// terminal change are lost, a second delivery of a key on any sink is a
// duplicate, two terminal keys for one request conflict, and a change
// routed to a sink that never got it is missing.
func TestAudit(t *testing.T) {
	reqs := []request{{ID: "r1"}, {ID: "r2"}, {ID: "r3"}}
	tests := map[string]struct {
		bus        []contract.StatusChange
		sns, slack []string // event keys
		terminal   int
		lost       int
		duplicates map[string]int
		conflicts  int
		missing    map[string]int
		jobless    int
	}{
		"each once": {
			bus:      []contract.StatusChange{change("r1", "j1", "COMPLETED"), change("r2", "j2", "FAILED"), change("r3", "", "TIMED_OUT")},
			sns:      []string{change("r1", "j1", "COMPLETED").EventKey, change("r2", "j2", "FAILED").EventKey, change("r3", "", "TIMED_OUT").EventKey},
			slack:    []string{change("r2", "j2", "FAILED").EventKey, change("r3", "", "TIMED_OUT").EventKey},
			terminal: 3, duplicates: map[string]int{}, missing: map[string]int{}, jobless: 1,
		},
		"a warning is not an end": {
			bus:      []contract.StatusChange{change("r1", "j1", "STILL_RUNNING"), change("r2", "j2", "COMPLETED")},
			sns:      []string{change("r1", "j1", "STILL_RUNNING").EventKey, change("r2", "j2", "COMPLETED").EventKey},
			terminal: 1, lost: 2, duplicates: map[string]int{}, missing: map[string]int{},
		},
		"duplicates on every sink": {
			bus:      []contract.StatusChange{change("r1", "j1", "FAILED"), change("r1", "j1", "FAILED"), change("r2", "j2", "COMPLETED"), change("r3", "j3", "COMPLETED")},
			sns:      []string{change("r1", "j1", "FAILED").EventKey, change("r1", "j1", "FAILED").EventKey, change("r2", "j2", "COMPLETED").EventKey, change("r3", "j3", "COMPLETED").EventKey},
			slack:    []string{change("r1", "j1", "FAILED").EventKey, change("r1", "j1", "FAILED").EventKey, change("r1", "j1", "FAILED").EventKey},
			terminal: 3, duplicates: map[string]int{sinkBus: 1, sinkSNS: 1, sinkSlack: 2}, missing: map[string]int{},
		},
		"two ends of one request": {
			bus:      []contract.StatusChange{change("r1", "j1", "COMPLETED"), change("r1", "", "TIMED_OUT"), change("r2", "j2", "COMPLETED"), change("r3", "j3", "COMPLETED")},
			sns:      []string{change("r1", "j1", "COMPLETED").EventKey, change("r1", "", "TIMED_OUT").EventKey, change("r2", "j2", "COMPLETED").EventKey, change("r3", "j3", "COMPLETED").EventKey},
			slack:    []string{change("r1", "", "TIMED_OUT").EventKey},
			terminal: 3, conflicts: 1, duplicates: map[string]int{}, missing: map[string]int{},
		},
		"missing notifications": {
			bus:      []contract.StatusChange{change("r1", "j1", "FAILED"), change("r2", "j2", "COMPLETED"), change("r3", "j3", "COMPLETED")},
			sns:      []string{change("r2", "j2", "COMPLETED").EventKey},
			terminal: 3, duplicates: map[string]int{}, missing: map[string]int{sinkSNS: 2, sinkSlack: 1},
		},
	}
	routed := func(sink, status string) bool {
		return sink == sinkSNS || status != contract.StatusCompleted && status != contract.StatusStillRunning
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := newLedger()
			for _, c := range tc.bus {
				l.busEvent(c)
			}
			for _, k := range tc.sns {
				l.delivery(sinkSNS, k, nil)
			}
			for _, k := range tc.slack {
				l.delivery(sinkSlack, k, nil)
			}
			a := l.audit(reqs, routed)
			if a.terminal != tc.terminal || a.lost != tc.lost || len(a.conflicts) != tc.conflicts || a.jobless != tc.jobless {
				t.Errorf("terminal %d lost %d conflicts %v jobless %d; want %d, %d, %d, %d",
					a.terminal, a.lost, a.conflicts, a.jobless, tc.terminal, tc.lost, tc.conflicts, tc.jobless)
			}
			if !equalCounts(a.duplicates, tc.duplicates) {
				t.Errorf("duplicates %v, want %v", a.duplicates, tc.duplicates)
			}
			if !equalCounts(a.missing, tc.missing) {
				t.Errorf("missing %v, want %v", a.missing, tc.missing)
			}
		})
	}
}

func equalCounts(got, want map[string]int) bool {
	for k, v := range got {
		if v != want[k] {
			return false
		}
	}
	for k, v := range want {
		if v != got[k] {
			return false
		}
	}
	return true
}

// fakeRuntime is an execution environment whose invocations take a while
// and fail if it is killed meanwhile.
type fakeRuntime struct {
	work time.Duration

	mu      sync.Mutex
	running chan struct{} // closed by a kill while an invocation runs
	kills   int
}

func (f *fakeRuntime) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	f.mu.Lock()
	killed := make(chan struct{})
	f.running = killed
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running = nil; f.mu.Unlock() }()
	select {
	case <-time.After(f.work):
		return []byte(`{"batchItemFailures":[]}`), nil
	case <-killed:
		return nil, errors.New("Runtime.ExitError: signal: killed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fakeRuntime) KillRuntime() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills++
	if f.running != nil {
		close(f.running)
		f.running = nil
	}
	return nil
}

// fakeQueue records the copies sent to it.
type fakeQueue struct {
	mu     sync.Mutex
	bodies []string
}

func (q *fakeQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		q.bodies = append(q.bodies, aws.ToString(e.MessageBody))
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// batch is an SQS event of tracking messages for requests ids.
func batch(ids ...string) []byte {
	type record struct {
		MessageID string `json:"messageId"`
		Body      string `json:"body"`
	}
	var ev struct {
		Records []record `json:"Records"`
	}
	for i, id := range ids {
		m := contract.TrackingMessage{Version: 1, AppID: AppID, BackendEnvironmentName: "skaaaa", JobID: "j" + id,
			Operation: "CloneBackend", RequestID: id, SubmittedAt: time.Now(), Deadline: time.Now().Add(time.Hour)}
		b, _ := json.Marshal(m)
		ev.Records = append(ev.Records, record{MessageID: strconv.Itoa(i), Body: string(b)})
	}
	b, _ := json.Marshal(ev)
	return b
}

// TestPollInvokerKills arms kills and checks that each lands on a batch of
// several messages while its invocation runs, failing it; a single-message
// batch and a batch done before the kill do not count.
func TestPollInvokerKills(t *testing.T) {
	tests := map[string]struct {
		work      time.Duration
		batches   [][]string
		armed     int
		wantKills int
		wantMiss  bool
	}{
		"a slow batch is killed":  {work: time.Second, batches: [][]string{{"a", "b", "c"}}, armed: 1, wantKills: 1},
		"one message is no batch": {work: time.Second, batches: [][]string{{"a"}, {"b", "c"}}, armed: 1, wantKills: 1},
		"a quick batch escapes":   {work: time.Millisecond, batches: [][]string{{"a", "b"}}, armed: 1, wantMiss: true},
		"not armed":               {work: time.Second / 4, batches: [][]string{{"a", "b"}}},
		"two kills, two batches":  {work: time.Second, batches: [][]string{{"a", "b"}, {"c", "d"}, {"e", "f"}}, armed: 2, wantKills: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rt := &fakeRuntime{work: tc.work}
			in := newInjector(&fakeQueue{}, 0, 1)
			for range tc.armed {
				in.armKill()
			}
			p := &pollInvoker{pool: newPool("PollFunction", []runtime{rt}), in: in}
			failed := 0
			var killedIDs []string
			for _, ids := range tc.batches {
				if _, err := p.Invoke(context.Background(), batch(ids...)); err != nil {
					failed++
					killedIDs = append(killedIDs, ids...)
				}
			}
			_, kills, misses := in.snapshot()
			if len(kills) != tc.wantKills || failed != tc.wantKills || (misses > 0) != tc.wantMiss {
				t.Fatalf("kills %d (invocations failed %d), misses %d; want %d kills, a miss: %v", len(kills), failed, misses, tc.wantKills, tc.wantMiss)
			}
			var got []string
			for _, k := range kills {
				got = append(got, k.Requests...)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(killedIDs, ",") {
				t.Errorf("killed batches hold %v, want the requests of the failed invocations %v", got, killedIDs)
			}
		})
	}
}

// TestCopies checks the duplicates the invokers inject: copies of a
// batch's own messages, counted, and a notify batch invoked twice.
func TestCopies(t *testing.T) {
	q := &fakeQueue{}
	in := newInjector(q, 1, 1) // every batch
	rt := &fakeRuntime{work: time.Millisecond}
	pool := newPool("f", []runtime{rt})
	poll := &pollInvoker{pool: pool, in: in, queueURL: "jobs"}
	notifier := &notifyInvoker{pool: pool, in: in, queueURL: "completions"}
	payload := batch("a", "b", "c")
	for range 5 {
		if _, err := poll.Invoke(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
		if _, err := notifier.Invoke(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
	}
	injected, _, _ := in.snapshot()
	if injected.TrackingCopies == 0 || injected.CompletionCopies == 0 || injected.Redelivered == 0 {
		t.Fatalf("injected %+v, want copies of both kinds and redeliveries", injected)
	}
	if len(q.bodies) != injected.TrackingCopies+injected.CompletionCopies {
		t.Errorf("%d copies sent, %d counted", len(q.bodies), injected.TrackingCopies+injected.CompletionCopies)
	}
	own := string(payload)
	for _, b := range q.bodies {
		enc, _ := json.Marshal(b)
		if !strings.Contains(own, string(enc[1:len(enc)-1])) {
			t.Errorf("copy %s is not a message of the batch", b)
		}
	}
	none := newInjector(q, 0, 1)
	if n := none.copyMessages(context.Background(), "jobs", []string{"x"}); n != 0 {
		t.Errorf("a zero rate copied %d messages", n)
	}
}

// pool hands out fake runtimes, one invocation at a time each.
type pool struct {
	name string
	free chan runtime
}

func newPool(name string, envs []runtime) *pool {
	p := &pool{name: name, free: make(chan runtime, len(envs))}
	for _, e := range envs {
		p.free <- e
	}
	return p
}

func (p *pool) take(ctx context.Context) (runtime, error) {
	select {
	case e := <-p.free:
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) put(e runtime) { p.free <- e }

func (p *pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	defer p.put(e)
	return e.Invoke(ctx, payload)
}
