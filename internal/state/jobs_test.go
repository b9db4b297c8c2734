package state_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
		return contract.TrackingMessage{Version: 1, AppID: k.AppID, BackendEnvironmentName: k.Env, JobID: k.JobID, Operation: "UpdateBackendAPI",
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
	if err := s.FinishJob(ctx, msg(a), contract.StatusChange{Status: "COMPLETED", Polls: 4}); err != nil {
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
	if err != nil || len(msgs) != 1 || msgs[0].JobID != "b" || msgs[0].Operation != "UpdateBackendAPI" {
		t.Errorf("TrackedMessages(dev) = %+v, %v; want b's tracking message", msgs, err)
	}
	d := state.JobKey{AppID: "d1", Env: "dev", JobID: "d"}
	claim, err := s.ClaimJob(ctx, msg(d), "sweep", time.Now().Add(time.Minute))
	if err != nil || claim == nil {
		t.Fatalf("ClaimJob(d) = %v, %v", claim, err)
	}
	if err := s.ReleaseJob(ctx, claim); err != nil {
		t.Fatal(err)
	}
	if started, _ := s.TrackJob(ctx, msg(d), "sweep"); !started {
		t.Error("a job whose claim was released could not be tracked again")
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
			if err := s.FinishJob(ctx, contract.TrackingMessage{AppID: k.AppID, BackendEnvironmentName: k.Env, JobID: k.JobID}, contract.StatusChange{Status: "FAILED", Polls: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ended, err := s.EndedJobs(ctx, keys)
	if err != nil || len(ended) != 3 || !ended[keys[0]] || !ended[keys[200]] {
		t.Errorf("EndedJobs over 300 keys = %d ended, %v; want the 3 finished", len(ended), err)
	}
}

// claimMsg is the tracking message of job id on d1/dev, for request rid.
func claimMsg(id, rid string, deadline time.Time) contract.TrackingMessage {
	return contract.TrackingMessage{Version: 1, AppID: "d1", BackendEnvironmentName: "dev", JobID: id, Operation: "UpdateBackendAPI",
		RequestID: rid, SubmittedAt: deadline.Add(-time.Hour), Deadline: deadline}
}

// TestJobClaimLapses is the sweep's claim leak: a tracker that claimed a job
// and then failed both to send and to release it holds the job only until
// its lease runs out; then another tracker takes it over. A claim marked
// sent is never taken over.
func TestJobClaimLapses(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := newStore(t, state.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	m := claimMsg("a", "", now.Add(time.Hour))
	first, err := s.ClaimJob(ctx, m, "sweep", now.Add(time.Minute))
	if err != nil || first == nil || first.Sent {
		t.Fatalf("first claim = %+v, %v; want an unsent claim", first, err)
	}
	if c, err := s.ClaimJob(ctx, m, "sweep", now.Add(time.Minute)); c != nil || err != nil {
		t.Fatalf("claim within the lease = %+v, %v; want none", c, err)
	}
	now = now.Add(2 * time.Minute) // the first tracker is gone: its lease ran out
	second, err := s.ClaimJob(ctx, m, "sweep", now.Add(time.Minute))
	if err != nil || second == nil {
		t.Fatalf("claim after the lease = %+v, %v; want it taken over", second, err)
	}
	if err := s.MarkJobSent(ctx, first); !errors.Is(err, state.ErrClaimLost) {
		t.Errorf("the lapsed holder marking it sent: %v, want ErrClaimLost", err)
	}
	if err := s.ReleaseJob(ctx, first); err != nil {
		t.Errorf("the lapsed holder releasing it: %v", err)
	}
	if err := s.MarkJobSent(ctx, second); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if c, err := s.ClaimJob(ctx, m, "sweep", now.Add(time.Minute)); c != nil || err != nil {
		t.Errorf("claim of a sent job = %+v, %v; want none", c, err)
	}
	if running, _ := s.RunningJobs(ctx, "d1", "dev"); !slices.Equal(running, []string{"a"}) {
		t.Errorf("running = %v, want [a]", running)
	}
}

// TestJobClaimOwners keeps a job with the request it was started for: the
// same request claims it again (and learns whether it sent), another
// request or a sweep does not; a released claim is free at once.
func TestJobClaimOwners(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := newStore(t, state.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	deadline := now.Add(time.Hour)
	mine, err := s.ClaimJob(ctx, claimMsg("j", "r-1", deadline), "submit", now.Add(time.Minute))
	if err != nil || mine == nil || mine.RequestID != "r-1" {
		t.Fatalf("claim = %+v, %v", mine, err)
	}
	for name, m := range map[string]contract.TrackingMessage{"another request": claimMsg("j", "r-2", deadline), "a sweep": claimMsg("j", "", deadline)} {
		if c, err := s.ClaimJob(ctx, m, "sweep", now.Add(time.Minute)); c != nil || err != nil {
			t.Errorf("%s claimed r-1's job: %+v, %v", name, c, err)
		}
	}
	if err := s.MarkJobSent(ctx, mine); err != nil {
		t.Fatal(err)
	}
	again, err := s.ClaimJob(ctx, claimMsg("j", "r-1", deadline), "submit", now.Add(time.Minute))
	if err != nil || again == nil || !again.Sent {
		t.Errorf("the same request again = %+v, %v; want its claim, sent", again, err)
	}
	now = now.Add(time.Hour) // a lapsed claim of a request stays the request's, for a sweep
	if c, err := s.ClaimJob(ctx, claimMsg("j", "", deadline), "sweep", now.Add(time.Minute)); c != nil || err != nil {
		t.Errorf("a sweep took a sent request's job: %+v, %v", c, err)
	}
	k, err := s.ClaimJob(ctx, claimMsg("k", "", deadline), "sweep", now.Add(time.Minute))
	if err != nil || k == nil {
		t.Fatal(err)
	}
	if err := s.ReleaseJob(ctx, k); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ClaimJob(ctx, claimMsg("k", "r-3", deadline), "submit", now.Add(time.Minute)); c == nil || err != nil {
		t.Errorf("a released job could not be claimed: %+v, %v", c, err)
	}
}

// TestJobRetention keeps a tracked job's record past the 14 days a
// dead-letter queue keeps a message: a redriven message finds it.
func TestJobRetention(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	db, name := table(t)
	s := state.New(db, name, state.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	m := claimMsg("r", "", now.Add(time.Hour))
	if _, err := s.TrackJob(ctx, m, "submit"); err != nil {
		t.Fatal(err)
	}
	expiry := func() int64 {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &name, Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "job#d1#dev#r"}}})
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			ExpiresAt int64 `dynamodbav:"expiresAt"`
		}
		if err := attributevalue.UnmarshalMap(out.Item, &v); err != nil {
			t.Fatal(err)
		}
		return v.ExpiresAt
	}
	if got, min := expiry(), m.Deadline.Add(15*24*time.Hour).Unix(); got < min {
		t.Errorf("tracked job expires %v after its deadline, want at least 15 days", time.Duration(got-m.Deadline.Unix())*time.Second)
	}
	if err := s.FinishJob(ctx, m, contract.StatusChange{Status: "COMPLETED", Polls: 2}); err != nil {
		t.Fatal(err)
	}
	if got, min := expiry(), now.Add(15*24*time.Hour).Unix(); got < min {
		t.Errorf("ended job expires %v after its end, want at least 15 days", time.Duration(got-now.Unix())*time.Second)
	}
}

// TestAnnouncingStacks checks which stack's status change lists a job:
// its own environment's for a change to its resources, the created
// environment's for a clone, any of the app's for an app-wide job, and
// none for an operation that deploys nothing.
func TestAnnouncingStacks(t *testing.T) {
	s := newStore(t, state.Options{})
	ctx := context.Background()
	jobs := []contract.TrackingMessage{
		{AppID: "d1", BackendEnvironmentName: "dev", JobID: "api", Operation: "UpdateBackendAPI"},
		{AppID: "d1", BackendEnvironmentName: "dev", JobID: "clone", Operation: "CloneBackend", TargetEnvironmentName: "preview"},
		{AppID: "d1", BackendEnvironmentName: "dev", JobID: "models", Operation: "GenerateBackendAPIModels"},
		{AppID: "d1", BackendEnvironmentName: "prod", JobID: "all", Operation: "RemoveAllBackends"},
	}
	for _, m := range jobs {
		m.Version, m.SubmittedAt, m.Deadline = 1, time.Now(), time.Now().Add(time.Hour)
		if started, err := s.TrackJob(ctx, m, "submit"); !started || err != nil {
			t.Fatalf("TrackJob(%s) = %v, %v", m.JobID, started, err)
		}
	}
	for env, want := range map[string][]string{"dev": {"all", "api"}, "preview": {"all", "clone"}, "qa": {"all"}} {
		msgs, err := s.TrackedMessages(ctx, "d1", env)
		var got []string
		for _, m := range msgs {
			got = append(got, m.JobID)
		}
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("a status change of %s's stack announces %v, %v; want %v", env, got, err, want)
		}
	}
	if err := s.FinishJob(ctx, jobs[1], contract.StatusChange{Status: "COMPLETED", Polls: 2}); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := s.TrackedMessages(ctx, "d1", "preview"); len(msgs) != 1 || msgs[0].JobID != "all" {
		t.Errorf("after the clone ended, preview's stack announces %+v; want only the app-wide job", msgs)
	}
}
