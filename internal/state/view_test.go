package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/state"
)

// viewFixture writes, through the Store as the functions do, one of each
// thing `jobwatch jobs` shows: a request waiting second in line, one
// whose job ran, was looked up twice, COMPLETED and was announced, one
// whose job still runs, a refused one, and a job the sweep found.
type viewFixture struct {
	t     *testing.T
	ctx   context.Context
	store *state.Store
	view  *state.View
	t0    time.Time
	now   time.Time // the store's clock
}

func newViewFixture(t *testing.T) *viewFixture {
	t.Helper()
	c, name := table(t)
	f := &viewFixture{t: t, ctx: context.Background(), t0: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	f.now = f.t0
	f.store = state.New(c, name, state.Options{Now: func() time.Time { return f.now }})
	f.view = state.NewView(c, name)
	f.finishedJob()
	f.runningAndWaiting()
	// r-refused; j-found, which the sweep found on staging.
	f.now = f.t0.Add(5 * time.Minute)
	f.request("r-refused", "staging", "CloneBackend", state.Refused, func(r *state.Request) {
		r.Status, r.Error = contract.StatusFailed, "refused: NotFoundException: no such environment"
	})
	f.now = f.now.Add(time.Second)
	f.track("", "staging", "j-found", "sweep")
	return f
}

// finishedJob writes r-done: started job j-done, two lookups, COMPLETED,
// announced on EventBridge and SNS.
func (f *viewFixture) finishedJob() {
	t, s, ctx := f.t, f.store, f.ctx
	started := f.t0.Add(time.Second)
	f.request("r-done", "dev", "CloneBackend", state.Started, func(r *state.Request) {
		r.JobID, r.Status, r.SubmittedAt, r.Tracked = "j-done", "RUNNING", &started, true
	})
	m := f.track("r-done", "dev", "j-done", "submit")
	f.now = f.t0.Add(30 * time.Second)
	// The first lookup finds it running; the second, COMPLETED, ends it (FinishJob).
	seen := &state.Lookup{At: f.now, Status: "RUNNING", Polls: 1}
	if err := s.AdvanceChain(ctx, state.JobKeyOf(m), state.StepOf(m), state.Step{Seq: 1, ID: "x"}, seen); err != nil {
		t.Fatal(err)
	}
	f.now = f.t0.Add(61 * time.Second)
	change := contract.NewStatusChange(contract.Ending{AppID: "d1", BackendEnvironmentName: "dev", JobID: "j-done", RequestID: "r-done",
		Operation: "CloneBackend", Status: contract.StatusCompleted, PreviousStatus: "RUNNING", SubmittedAt: started, Polls: 2}, f.now)
	if err := s.FinishJob(ctx, m, change); err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"eventbridge", "sns"} {
		k := state.DeliveryKey{EventKey: change.EventKey, Sink: sink}
		if _, err := s.ClaimDelivery(ctx, k, f.now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteDelivery(ctx, k, f.now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

// runningAndWaiting writes r-run, whose job j-run runs on prod, and
// r-wait1 and r-wait2 waiting behind it.
func (f *viewFixture) runningAndWaiting() {
	f.now = f.t0.Add(2 * time.Minute)
	f.request("r-run", "prod", "UpdateBackendAPI", state.Started, func(r *state.Request) {
		started := f.now
		r.JobID, r.Status, r.SubmittedAt, r.Tracked = "j-run", "RUNNING", &started, true
	})
	f.track("r-run", "prod", "j-run", "submit")
	for i, id := range []string{"r-wait1", "r-wait2"} {
		f.now = f.t0.Add(time.Duration(3+i) * time.Minute)
		f.request(id, "prod", "CloneBackend", state.Waiting, func(r *state.Request) {
			since := f.now
			r.Status, r.WaitingSince = "WAITING", &since
		})
	}
	line, err := f.store.Line(f.ctx, "d1", "prod")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.EditLine(f.ctx, line, func(l *state.Line) (bool, error) {
		l.Entries = []state.LineEntry{{RequestID: "r-wait1"}, {RequestID: "r-wait2"}}
		return true, nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

// request writes the record of a request, arrived now.
func (f *viewFixture) request(id, env, op string, st state.RequestState, edit func(r *state.Request)) {
	f.t.Helper()
	r := state.NewRequest(id)
	err := f.store.EditRequest(f.ctx, r, func(x *state.Request) (bool, error) {
		x.Operation, x.AppID, x.BackendEnvironmentName, x.ArrivedAt, x.State = op, "d1", env, f.now, st
		if edit != nil {
			edit(x)
		}
		return true, nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// track records a job tracked from now.
func (f *viewFixture) track(id, env, jobID, source string) contract.TrackingMessage {
	f.t.Helper()
	m := contract.TrackingMessage{Version: 1, AppID: "d1", BackendEnvironmentName: env, JobID: jobID, Operation: "CloneBackend",
		SubmittedAt: f.now, Deadline: f.now.Add(time.Hour), RequestID: id}
	if _, err := f.store.TrackJob(f.ctx, m, source); err != nil {
		f.t.Fatal(err)
	}
	return m
}

func TestViewEntries(t *testing.T) {
	f := newViewFixture(t)
	ctx := context.Background()
	all, err := f.view.Entries(ctx, state.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, job, state, source string
		pos, waiting, lookups  int
	}
	var got []row
	for _, e := range all {
		got = append(got, row{e.RequestID, e.JobID, e.State, e.Source, e.Position, e.Waiting, e.Lookups})
	}
	want := []row{
		{"r-done", "j-done", "COMPLETED", "jobwatch", 0, 0, 2},
		{"r-run", "j-run", "RUNNING", "jobwatch", 0, 0, 0},
		{"r-wait1", "", "WAITING", "jobwatch", 1, 2, 0},
		{"r-wait2", "", "WAITING", "jobwatch", 2, 2, 0},
		{"r-refused", "", "FAILED", "jobwatch", 0, 0, 0},
		{"", "j-found", "RUNNING", "discovered", 0, 0, 0},
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
	if c := all[0].Change; c == nil || c.Status != "COMPLETED" || c.EventKey == "" {
		t.Errorf("r-done's change = %+v, want its COMPLETED status change", c)
	}
	if all[4].Error == "" || !strings.Contains(all[4].Error, "NotFoundException") {
		t.Errorf("r-refused's error = %q", all[4].Error)
	}

	for name, tc := range map[string]struct {
		f    state.Filter
		want []string
	}{
		"waiting":      {state.Filter{States: []string{"WAITING"}}, []string{"r-wait1", "r-wait2"}},
		"ended":        {state.Filter{States: []string{"COMPLETED", "FAILED"}}, []string{"r-done", "r-refused"}},
		"environment":  {state.Filter{Env: "staging"}, []string{"r-refused", "j-found"}},
		"other app":    {state.Filter{AppID: "d2"}, nil},
		"app and env":  {state.Filter{AppID: "d1", Env: "dev"}, []string{"r-done"}},
		"running prod": {state.Filter{States: []string{"RUNNING"}, Env: "prod"}, []string{"r-run"}},
	} {
		t.Run(name, func(t *testing.T) {
			es, err := f.view.Entries(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range es {
				ids = append(ids, cmpOr(e.RequestID, e.JobID))
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("entries = %v, want %v", ids, tc.want)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Follow reads one request with GetItem alone, as `submit --wait` does.
func TestViewFollow(t *testing.T) {
	f := newViewFixture(t)
	ctx := context.Background()
	for id, want := range map[string]string{"r-done": "COMPLETED", "r-run": "RUNNING", "r-wait2": "WAITING", "r-refused": "FAILED"} {
		e, err := f.view.Follow(ctx, id)
		if err != nil || e == nil || e.State != want {
			t.Errorf("Follow(%s) = %+v, %v; want %s", id, e, err, want)
		}
	}
	if e, _ := f.view.Follow(ctx, "r-wait2"); e.Position != 2 || e.Waiting != 2 {
		t.Errorf("r-wait2 at %d of %d, want 2 of 2", e.Position, e.Waiting)
	}
	if e, err := f.view.Follow(ctx, "r-nobody"); e != nil || err != nil {
		t.Errorf("Follow of an unknown request = %+v, %v; want nil, nil", e, err)
	}
}

func TestViewTimeline(t *testing.T) {
	f := newViewFixture(t)
	ctx := context.Background()
	tl, err := f.view.Timeline(ctx, "r-done")
	if err != nil {
		t.Fatal(err)
	}
	var whats []string
	for _, e := range tl.Events {
		whats = append(whats, e.At.Sub(f.t0).String()+" "+e.What)
	}
	want := []string{
		"0s received: CloneBackend on d1/dev",
		"1s started job j-done",
		"30s lookup 1: RUNNING",
		"1m1s lookup 2: COMPLETED",
		"1m1s ended COMPLETED after 1m0s",
		"1m1s COMPLETED announced to eventbridge",
		"1m1s COMPLETED announced to sns",
	}
	if !slices.Equal(whats, want) {
		t.Errorf("timeline:\n got %q\nwant %q", whats, want)
	}
	// By job id, the same; the discovered job by its id.
	byJob, err := f.view.Timeline(ctx, "j-done")
	if err != nil || byJob.RequestID != "r-done" || len(byJob.Events) != len(tl.Events) {
		t.Errorf("Timeline(j-done) = %+v, %v; want r-done's", byJob, err)
	}
	found, err := f.view.Timeline(ctx, "j-found")
	if err != nil || found.Source != "discovered" || len(found.Events) == 0 || !strings.Contains(found.Events[0].What, "discovery sweep") {
		t.Errorf("Timeline(j-found) = %+v, %v", found, err)
	}
	wait, err := f.view.Timeline(ctx, "r-wait1")
	if err != nil || wait.Position != 1 || len(wait.Events) != 2 || wait.Events[1].What != "waiting for the environment" {
		t.Errorf("Timeline(r-wait1) = %+v, %v", wait, err)
	}
	if _, err := f.view.Timeline(ctx, "nobody"); !errors.Is(err, state.ErrUnknownID) {
		t.Errorf("Timeline of an unknown id: %v, want ErrUnknownID", err)
	}
	b, _ := json.Marshal(tl)
	for _, field := range []string{`"requestId":"r-done"`, `"state":"COMPLETED"`, `"events":[`, `"lookups":2`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON %s lacks %s", b, field)
		}
	}
}
