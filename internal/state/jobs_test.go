package state_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// table creates a state table in moto. Its name is random: a moto server
// can be shared with other test runs.
func table(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	return testenv.Table(t, fmt.Sprintf("state%08x", rand.Uint32()))
}

// newStore creates a state table in moto and a store on it.
func newStore(t *testing.T, o state.Options) *state.Store {
	t.Helper()
	c, name := table(t)
	return state.New(c, name, o)
}

// TestJobLifecycle follows a job through the store: tracked once, listed
// as running in its environment, then ended and no longer running.
func TestJobLifecycle(t *testing.T) {
	s := newStore(t, state.Options{})
	ctx := context.Background()
	a := state.JobKey{AppID: "d1", Env: "dev", JobID: "a"}
	b := state.JobKey{AppID: "d1", Env: "dev", JobID: "b"}
	other := state.JobKey{AppID: "d1", Env: "prod", JobID: "c"}
	msg := func(k state.JobKey) contract.TrackingMessage {
		return contract.TrackingMessage{Version: 1, AppID: k.AppID, BackendEnvironmentName: k.Env, JobID: k.JobID, Operation: "CloneBackend",
			SubmittedAt: time.Now(), Deadline: time.Now().Add(time.Hour)}
	}
	for _, k := range []state.JobKey{a, b, other} {
		if started, err := s.TrackJob(ctx, msg(k), "submit"); !started || err != nil {
			t.Fatalf("TrackJob(%v) = %v, %v", k, started, err)
		}
	}
	if started, err := s.TrackJob(ctx, msg(a), "sweep"); started || err != nil {
		t.Errorf("second TrackJob of a tracked job = %v, %v; want false", started, err)
	}
	running, err := s.RunningJobs(ctx, "d1", "dev")
	slices.Sort(running)
	if err != nil || !slices.Equal(running, []string{"a", "b"}) {
		t.Errorf("RunningJobs(dev) = %v, %v", running, err)
	}
	if err := s.FinishJob(ctx, a, "COMPLETED", 4); err != nil {
		t.Fatal(err)
	}
	ended, err := s.EndedJobs(ctx, []state.JobKey{a, b, {AppID: "d1", Env: "dev", JobID: "unknown"}})
	if err != nil || !ended[a] || ended[b] || len(ended) != 1 {
		t.Errorf("EndedJobs = %v, %v; want only a", ended, err)
	}
	if running, _ := s.RunningJobs(ctx, "d1", "dev"); !slices.Equal(running, []string{"b"}) {
		t.Errorf("RunningJobs(dev) after a ended = %v", running)
	}
	if running, _ := s.RunningJobs(ctx, "d9", "none"); len(running) != 0 {
		t.Errorf("RunningJobs of an unknown environment = %v", running)
	}
	msgs, err := s.TrackedMessages(ctx, "d1", "dev")
	if err != nil || len(msgs) != 1 || msgs[0].JobID != "b" || msgs[0].Operation != "CloneBackend" {
		t.Errorf("TrackedMessages(dev) = %+v, %v; want b's tracking message", msgs, err)
	}
	if err := s.ForgetJob(ctx, b); err != nil {
		t.Fatal(err)
	}
	if started, _ := s.TrackJob(ctx, msg(b), "sweep"); !started {
		t.Error("a forgotten job could not be tracked again")
	}
}

// TestEndedJobsManyKeys reads more keys than one BatchGetItem takes, with
// duplicates.
func TestEndedJobsManyKeys(t *testing.T) {
	s := newStore(t, state.Options{})
	ctx := context.Background()
	var keys []state.JobKey
	for i := range 150 {
		k := state.JobKey{AppID: "d1", Env: "dev", JobID: string(rune('A'+i/26)) + string(rune('a'+i%26))}
		keys = append(keys, k, k)
		if i%50 == 0 {
			if err := s.FinishJob(ctx, k, "FAILED", 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	ended, err := s.EndedJobs(ctx, keys)
	if err != nil || len(ended) != 3 || !ended[keys[0]] || !ended[keys[200]] {
		t.Errorf("EndedJobs over 300 keys = %d ended, %v; want the 3 finished", len(ended), err)
	}
}
