package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/state"
)

// countingSink records what reaches it and fails the event keys in fail.
type countingSink struct {
	mu        sync.Mutex
	delivered map[string]int
	fail      map[string]bool
}

func (s *countingSink) Name() string { return "counting" }

func (s *countingSink) Publish(_ context.Context, changes []Change) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(changes))
	for i, c := range changes {
		if s.fail[c.EventKey] {
			errs[i] = errors.New("sink down")
			continue
		}
		s.delivered[c.EventKey]++
	}
	return errs
}

func claimsTable(t *testing.T) *state.Store {
	t.Helper()
	c, name := testenv.Table(t, "claims")
	return state.New(c, name, state.Options{})
}

// claimKey is the delivery of the change with event key k to the
// counting sink.
func claimKey(k string) state.DeliveryKey { return state.DeliveryKey{EventKey: k, Sink: "counting"} }

func dchange(job, status string) Change {
	return Change{MessageID: "m-" + job, StatusChange: contract.StatusChange{AppID: "d1", BackendEnvironmentName: "dev", JobID: job,
		Status: status, EventKey: contract.EventKey("d1", "dev", job, "", status)}}
}

// TestDeduplicate checks each status change reaches the sink once over
// duplicates in a batch, redeliveries and failed deliveries, against the
// state table in moto.
func TestDeduplicate(t *testing.T) {
	claims := claimsTable(t)
	sink := &countingSink{delivered: map[string]int{}, fail: map[string]bool{}}
	d := Deduplicate(sink, claims, IdempotencyOptions{})
	ctx := context.Background()

	// A batch with a duplicate: delivered once, both copies succeed.
	errs := d.Publish(ctx, []Change{dchange("a", "COMPLETED"), dchange("b", "FAILED"), dchange("a", "COMPLETED")})
	if errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("errs = %v", errs)
	}
	// Redelivered: not delivered again, reported delivered.
	if errs := d.Publish(ctx, []Change{dchange("a", "COMPLETED")}); errs[0] != nil {
		t.Fatalf("redelivery: %v", errs[0])
	}
	// Another status of the same job is another change.
	d.Publish(ctx, []Change{dchange("a", "STILL_RUNNING")})

	// A failed delivery releases its claim; the retry delivers.
	sink.fail[dchange("c", "LOST").EventKey] = true
	if errs := d.Publish(ctx, []Change{dchange("c", "LOST")}); errs[0] == nil {
		t.Fatal("a failed delivery was reported delivered")
	}
	sink.fail = map[string]bool{}
	if errs := d.Publish(ctx, []Change{dchange("c", "LOST")}); errs[0] != nil {
		t.Fatalf("retry after failure: %v", errs[0])
	}

	want := map[string]int{
		dchange("a", "COMPLETED").EventKey: 1, dchange("b", "FAILED").EventKey: 1,
		dchange("a", "STILL_RUNNING").EventKey: 1, dchange("c", "LOST").EventKey: 1,
	}
	if fmt.Sprint(sink.delivered) != fmt.Sprint(want) {
		t.Errorf("delivered %v, want %v", sink.delivered, want)
	}
}

// TestClaimInProgress checks a claim held by a live invocation keeps
// others off, and an expired one (its invocation died) does not.
func TestClaimInProgress(t *testing.T) {
	claims := claimsTable(t)
	ctx := context.Background()
	now := time.Now()
	k, old := claimKey("k"), claimKey("old")
	if done, err := claims.ClaimDelivery(ctx, k, now.Add(time.Minute)); done || err != nil {
		t.Fatalf("first claim: %v %v", done, err)
	}
	if _, err := claims.ClaimDelivery(ctx, k, now.Add(time.Minute)); !errors.Is(err, ErrInProgress) {
		t.Errorf("second claim while held: %v, want ErrInProgress", err)
	}
	if done, err := claims.ClaimDelivery(ctx, old, now.Add(-time.Minute)); done || err != nil {
		t.Fatal(err)
	}
	if done, err := claims.ClaimDelivery(ctx, old, now.Add(time.Minute)); done || err != nil {
		t.Errorf("claim after the holder expired: %v %v, want it taken over", done, err)
	}
	if err := claims.CompleteDelivery(ctx, k, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if done, err := claims.ClaimDelivery(ctx, k, now.Add(time.Minute)); !done || err != nil {
		t.Errorf("claim of a delivered change: %v %v, want done", done, err)
	}
	if err := claims.ReleaseDelivery(ctx, k); err != nil {
		t.Fatal(err)
	}
	if done, _ := claims.ClaimDelivery(ctx, k, now.Add(time.Minute)); !done {
		t.Error("ReleaseDelivery removed a COMPLETED record")
	}
	d := Deduplicate(&countingSink{delivered: map[string]int{}}, claims, IdempotencyOptions{})
	_, _ = claims.ClaimDelivery(ctx, claimKey(dchange("z", "FAILED").EventKey), now.Add(time.Minute))
	if errs := d.Publish(ctx, []Change{dchange("z", "FAILED")}); errs[0] == nil || !strings.Contains(errs[0].Error(), "another invocation") {
		t.Errorf("change claimed elsewhere: %v, want an in-progress error (redelivered later)", errs[0])
	}
}
