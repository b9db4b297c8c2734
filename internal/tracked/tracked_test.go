package tracked_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/tracked"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newStore creates a state table in moto and a store on it.
func newStore(t *testing.T) *tracked.Store {
	t.Helper()
	c, name := testenv.Table(t, "state")
	return &tracked.Store{Client: c, Table: name}
}

// TestLifecycle follows a job through the store: tracked once, listed as
// running in its environment, then done and no longer running.
func TestLifecycle(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a := tracked.Key{AppID: "d1", Env: "dev", JobID: "a"}
	b := tracked.Key{AppID: "d1", Env: "dev", JobID: "b"}
	other := tracked.Key{AppID: "d1", Env: "prod", JobID: "c"}
	msg := func(k tracked.Key) contract.TrackingMessage {
		return contract.TrackingMessage{Version: 1, AppID: k.AppID, BackendEnvironmentName: k.Env, JobID: k.JobID, Operation: "CloneBackend",
			SubmittedAt: time.Now(), Deadline: time.Now().Add(time.Hour)}
	}
	for _, k := range []tracked.Key{a, b, other} {
		if started, err := s.Start(ctx, msg(k), "submit"); !started || err != nil {
			t.Fatalf("Start(%v) = %v, %v", k, started, err)
		}
	}
	if started, err := s.Start(ctx, msg(a), "sweep"); started || err != nil {
		t.Errorf("second Start of a tracked job = %v, %v; want false", started, err)
	}
	running, err := s.Running(ctx, "d1", "dev")
	slices.Sort(running)
	if err != nil || !slices.Equal(running, []string{"a", "b"}) {
		t.Errorf("Running(dev) = %v, %v", running, err)
	}
	if err := s.Finish(ctx, a, "COMPLETED", 4); err != nil {
		t.Fatal(err)
	}
	done, err := s.Done(ctx, []tracked.Key{a, b, {AppID: "d1", Env: "dev", JobID: "unknown"}})
	if err != nil || !done[a] || done[b] || len(done) != 1 {
		t.Errorf("Done = %v, %v; want only a", done, err)
	}
	if running, _ := s.Running(ctx, "d1", "dev"); !slices.Equal(running, []string{"b"}) {
		t.Errorf("Running(dev) after a ended = %v", running)
	}
	if running, _ := s.Running(ctx, "d9", "none"); len(running) != 0 {
		t.Errorf("Running of an unknown environment = %v", running)
	}
	msgs, err := s.Messages(ctx, "d1", "dev")
	if err != nil || len(msgs) != 1 || msgs[0].JobID != "b" || msgs[0].Operation != "CloneBackend" {
		t.Errorf("Messages(dev) = %+v, %v; want b's tracking message", msgs, err)
	}
	if err := s.Forget(ctx, b); err != nil {
		t.Fatal(err)
	}
	if started, _ := s.Start(ctx, msg(b), "sweep"); !started {
		t.Error("a forgotten job could not be tracked again")
	}
}
