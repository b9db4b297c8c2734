package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/samtemplate"
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

// TestClaimsOutliveRedrives checks a delivered change is remembered
// longer than any queue of the template keeps a message (the dead-letter
// queues' 14 days): a message redriven on a dead-letter queue's last day
// still finds the claims of the sinks that delivered it, and reaches
// none of them twice.
func TestClaimsOutliveRedrives(t *testing.T) {
	app, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	longest := time.Duration(0)
	for _, q := range app.Queues {
		longest = max(longest, q.MessageRetention)
	}
	if longest < 14*24*time.Hour {
		t.Fatalf("the longest retention of the template's queues is %v; want the dead-letter queues' 14 days", longest)
	}
	c, table := testenv.Table(t, "claims")
	now := time.Now()
	sink := &countingSink{delivered: map[string]int{}}
	ch := dchange("r", "COMPLETED")
	if errs := Deduplicate(sink, state.New(c, table, state.Options{}), IdempotencyOptions{Now: func() time.Time { return now }}).
		Publish(t.Context(), []Change{ch}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	out, err := c.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "evt#" + ch.EventKey + "#counting"}}})
	if err != nil {
		t.Fatal(err)
	}
	var claim struct{ ExpiresAt int64 }
	if err := attributevalue.UnmarshalMap(out.Item, &claim); err != nil {
		t.Fatal(err)
	}
	if remembered := time.Unix(claim.ExpiresAt, 0).Sub(now); remembered <= longest || remembered > DefaultIdempotencyWindow {
		t.Errorf("the claim is kept %v; want the default window, %v, beyond the %v a queue keeps a message", remembered, DefaultIdempotencyWindow, longest)
	}
}
