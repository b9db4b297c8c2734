package state_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/state"
)

// countingClient counts the reads and writes that reach the table, and
// can lose every write (answer it as a failed condition without doing it).
type countingClient struct {
	state.Client
	gets, puts atomic.Int32
	loseAll    bool
}

func (c *countingClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, optFns...)
}

func (c *countingClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts.Add(1)
	if c.loseAll {
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	return c.Client.PutItem(ctx, in, optFns...)
}

// counted returns a store on a new moto table through a countingClient.
func counted(t *testing.T) (*state.Store, *countingClient) {
	t.Helper()
	db, name := table(t)
	c := &countingClient{Client: db}
	return state.New(c, name, state.Options{}), c
}

// write puts a change on r that must land.
func write(t *testing.T, s *state.Store, r *state.Request, change func(*state.Request)) {
	t.Helper()
	if err := s.EditRequest(context.Background(), r, func(x *state.Request) (bool, error) { change(x); return true, nil }); err != nil {
		t.Fatalf("edit %s: %v", r.ID(), err)
	}
}

// TestRequestRecord takes a record through its life in the table: created
// blind, found by a second creation without a read (ALL_OLD), moved,
// dropped.
func TestRequestRecord(t *testing.T) {
	s, c := counted(t)
	ctx := context.Background()
	r := state.NewRequest("r-1")
	write(t, s, r, func(x *state.Request) { x.Fingerprint, x.Operation = "f1", "CloneBackend" })
	if !r.Exists() || r.ID() != "r-1" || r.State != state.Received {
		t.Fatalf("created %+v, want r-1 received in the table", r)
	}

	// A second invocation creating the same request sees the record.
	again := state.NewRequest("r-1")
	var seen []string
	err := s.EditRequest(ctx, again, func(x *state.Request) (bool, error) {
		seen = append(seen, x.Fingerprint)
		return !x.Exists(), nil
	})
	if err != nil || len(seen) != 2 || seen[1] != "f1" || !again.Exists() {
		t.Errorf("creating an existing record: %v, change saw %q; want the record as stored, second", err, seen)
	}
	if n := c.gets.Load(); n != 0 {
		t.Errorf("%d GetItem calls; the failed write's ALL_OLD should have answered", n)
	}

	write(t, s, again, func(x *state.Request) { _ = x.To(state.Starting) })
	if got, err := s.Request(ctx, "r-1"); err != nil || got.State != state.Starting || got.Rev != again.Rev {
		t.Errorf("read back %+v, %v; want starting at rev %d", got, err, again.Rev)
	}
	if err := s.DropRequest(ctx, r); !errors.Is(err, state.ErrConflict) {
		t.Errorf("dropping a stale copy: %v, want ErrConflict", err)
	}
	if err := s.DropRequest(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Request(ctx, "r-1"); got != nil || err != nil {
		t.Errorf("after the drop: %+v, %v; want no record", got, err)
	}
}

// TestEditLostRace edits a stale copy: the change runs again on the record
// another writer left, without a second read, and both changes land.
func TestEditLostRace(t *testing.T) {
	s, c := counted(t)
	ctx := context.Background()
	write(t, s, state.NewRequest("r-2"), func(*state.Request) {})
	a, _ := s.Request(ctx, "r-2")
	b, _ := s.Request(ctx, "r-2")
	write(t, s, a, func(x *state.Request) { x.JobID = "job-a" })
	reads := c.gets.Load()
	runs := 0
	write(t, s, b, func(x *state.Request) { runs++; x.Error = "from b" })
	if runs != 2 || b.JobID != "job-a" || b.Error != "from b" || b.Rev != 3 {
		t.Errorf("stale edit: %d runs, %+v; want 2 runs and both changes at rev 3", runs, b)
	}
	if c.gets.Load() != reads {
		t.Errorf("the lost race cost %d reads, want none", c.gets.Load()-reads)
	}

	// Deleted meanwhile: written anew from the caller's copy.
	if err := s.DropRequest(ctx, b); err != nil {
		t.Fatal(err)
	}
	var existed []bool
	write(t, s, a, func(x *state.Request) { existed = append(existed, x.Exists()); x.Status = "RUNNING" })
	if got, _ := s.Request(ctx, "r-2"); got == nil || got.JobID != "job-a" || got.Status != "RUNNING" || len(existed) != 2 || existed[1] {
		t.Errorf("after a delete: %+v (change saw exists %v); want a written anew", got, existed)
	}
}

// TestEditGivesUp loses every write: the edit ends with ErrConflict after
// a bounded number of attempts.
func TestEditGivesUp(t *testing.T) {
	s, c := counted(t)
	c.loseAll = true
	err := s.EditRequest(context.Background(), state.NewRequest("r-3"), func(*state.Request) (bool, error) { return true, nil })
	if !errors.Is(err, state.ErrConflict) || c.puts.Load() != 10 {
		t.Errorf("edit under constant conflict: %v after %d writes; want ErrConflict after 10", err, c.puts.Load())
	}
}

// TestLegacyStates reads records written by earlier versions, whose
// states were named new and submitted.
func TestLegacyStates(t *testing.T) {
	db, name := table(t)
	s := state.New(db, name, state.Options{})
	for old, want := range map[string]state.RequestState{"new": state.Received, "submitted": state.Started, "waiting": state.Waiting} {
		_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "req#" + old}, "rev": &types.AttributeValueMemberN{Value: "3"},
			"state": &types.AttributeValueMemberS{Value: old}, "arrivedAt": &types.AttributeValueMemberS{Value: "2026-03-02T09:00:00Z"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.Request(context.Background(), old); err != nil || r.State != want {
			t.Errorf("state %q read as %+v, %v; want %s", old, r, err, want)
		}
	}
}

// TestTransitions checks the moves of a request's life.
func TestTransitions(t *testing.T) {
	for name, tc := range map[string]struct {
		from, to state.RequestState
		ok       bool
	}{
		"start":               {state.Received, state.Starting, true},
		"join the line":       {state.Received, state.Waiting, true},
		"started":             {state.Starting, state.Started, true},
		"busy":                {state.Starting, state.Waiting, true},
		"head starts":         {state.Waiting, state.Starting, true},
		"wait deadline":       {state.Waiting, state.TimedOut, true},
		"refused by service":  {state.Starting, state.Failed, true},
		"lease changes":       {state.Started, state.Started, true},
		"no job without call": {state.Received, state.Started, false},
		"waiting to started":  {state.Waiting, state.Started, false},
		"timed out is final":  {state.TimedOut, state.Waiting, false},
		"started is final":    {state.Started, state.Waiting, false},
	} {
		t.Run(name, func(t *testing.T) {
			r := state.NewRequest("r")
			r.State = tc.from
			err := r.To(tc.to)
			if (err == nil) != tc.ok || tc.ok && r.State != tc.to || !tc.ok && (r.State != tc.from || !errors.Is(err, state.ErrTransition)) {
				t.Errorf("%s → %s: %v, state %s", tc.from, tc.to, err, r.State)
			}
		})
	}
}

// TestLease checks a lease holds until its end.
func TestLease(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := state.NewRequest("r")
	r.Lease("t", now.Add(time.Minute))
	if !r.Leased(now) || r.Leased(now.Add(time.Minute)) {
		t.Errorf("lease until +1m: held now %v, at +1m %v; want true, false", r.Leased(now), r.Leased(now.Add(time.Minute)))
	}
	r.Unlease()
	if r.Leased(now) || r.LockToken != "" {
		t.Errorf("after Unlease: %+v", r)
	}
}
