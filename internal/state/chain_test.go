package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/ddbmem"
	"github.com/jobwatch/jobwatch/internal/state"
)

// TestChain follows a job's tracking chain through the store, on moto and
// on the bench's table in memory: a new record is at step 0; an advance
// holds only from the record's step and is idempotent; a job without a
// record has no chain; an ended job's chain says so.
func TestChain(t *testing.T) {
	stores := map[string]func(t *testing.T) *state.Store{
		"moto":   func(t *testing.T) *state.Store { return newStore(t, state.Options{}) },
		"ddbmem": func(*testing.T) *state.Store { return state.New(ddbmem.New("pk"), "state", state.Options{}) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { checkChain(t, open(t)) })
	}
}

func checkChain(t *testing.T, s *state.Store) {
	ctx := context.Background()
	k := state.JobKey{AppID: "d1", Env: "dev", JobID: "j"}
	untracked := state.JobKey{AppID: "d1", Env: "dev", JobID: "nobody"}
	m := contract.TrackingMessage{Version: 1, AppID: k.AppID, BackendEnvironmentName: k.Env, JobID: k.JobID, Operation: "CloneBackend",
		SubmittedAt: time.Now(), Deadline: time.Now().Add(time.Hour)}
	if _, err := s.TrackJob(ctx, m, "submit"); err != nil {
		t.Fatal(err)
	}
	chain := func() state.Chain {
		t.Helper()
		chains, err := s.Chains(ctx, []state.JobKey{k, untracked, k})
		if _, ok := chains[untracked]; ok || err != nil || len(chains) != 1 {
			t.Fatalf("Chains = %v, %v; want the tracked job's alone", chains, err)
		}
		return chains[k]
	}
	first, one, rival := state.StepOf(m), state.Step{Seq: 1, ID: "a"}, state.Step{Seq: 1, ID: "b"}
	if c := chain(); c != (state.Chain{}) || c.Place(first) != state.Current || c.Place(one) != state.Ahead {
		t.Fatalf("a new record's chain = %+v; want step 0, the first message current", c)
	}
	steps := []struct {
		from, to state.Step
		want     error
	}{
		{first, one, nil},
		{first, one, nil}, // again, as after a crash that lost the answer
		{first, rival, state.ErrChainMoved},
		{state.Step{Seq: 5, ID: "z"}, state.Step{Seq: 6, ID: "y"}, state.ErrChainMoved},
	}
	for i, st := range steps {
		if err := s.AdvanceChain(ctx, k, st.from, st.to, nil); !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Errorf("advance %d, %v -> %v: %v; want %v", i, st.from, st.to, err, st.want)
		}
	}
	c := chain()
	places := map[state.Step]state.Place{first: state.Stale, one: state.Current, rival: state.Stale, {Seq: 2, ID: "c"}: state.Ahead}
	for step, want := range places {
		if got := c.Place(step); got != want {
			t.Errorf("chain at %+v: step %+v is %v, want %v", c.Step, step, got, want)
		}
	}
	if err := s.AdvanceChain(ctx, untracked, first, one, nil); !errors.Is(err, state.ErrNotTracked) {
		t.Errorf("advancing an untracked job: %v, want ErrNotTracked", err)
	}
	if err := s.FinishJob(ctx, m, contract.StatusChange{Status: "COMPLETED", Polls: 3}); err != nil {
		t.Fatal(err)
	}
	if c := chain(); !c.Ended || c.Step != one {
		t.Errorf("after the end: %+v; want it ended at step 1", c)
	}
}
