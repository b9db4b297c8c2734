package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/state"
)

// TestClaimLapses checks the expiry < now clause on the store's clock: a
// claim holds through its last second and lapses after it, and a
// delivered change stays delivered.
func TestClaimLapses(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := newStore(t, state.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	k := state.DeliveryKey{EventKey: "d1/dev/j/COMPLETED", Sink: "eventbridge"}
	until := now.Add(time.Minute)
	if done, err := s.ClaimDelivery(ctx, k, until); done || err != nil {
		t.Fatalf("first claim: %v, %v", done, err)
	}
	for _, at := range []time.Time{now, until} {
		now = at
		if _, err := s.ClaimDelivery(ctx, k, at.Add(time.Minute)); !errors.Is(err, state.ErrDeliveryInProgress) {
			t.Errorf("claim at %s while held until %s: %v, want ErrDeliveryInProgress", at, until, err)
		}
	}
	now = until.Add(time.Second)
	if done, err := s.ClaimDelivery(ctx, k, now.Add(time.Minute)); done || err != nil {
		t.Errorf("claim after the holder's claim lapsed: %v, %v; want it taken over", done, err)
	}
	if err := s.CompleteDelivery(ctx, k, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // past the record's expiry: TTL deletes it, a claim does not take it
	if err := s.ReleaseDelivery(ctx, k); err != nil {
		t.Fatal(err)
	}
	if done, err := s.ClaimDelivery(ctx, k, now.Add(time.Minute)); !done || err != nil {
		t.Errorf("claim of a delivered change: %v, %v; want done", done, err)
	}
	other := state.DeliveryKey{EventKey: k.EventKey, Sink: "sns"}
	if done, err := s.ClaimDelivery(ctx, other, now.Add(time.Minute)); done || err != nil {
		t.Errorf("the same change for another sink: %v, %v; want a claim of its own", done, err)
	}
}
