package ddbmem_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/state"
)

// script runs state store operations and writes down what each answered.
type script struct {
	t   *testing.T
	ctx context.Context
	s   *state.Store
	now *time.Time
	log []string
}

// note records one answer; errors by what they mean.
func (sc *script) note(what string, result any, err error) {
	switch {
	case err == nil:
	case errors.Is(err, state.ErrConflict):
		result = fmt.Sprint(result, " ErrConflict")
	case errors.Is(err, state.ErrDeliveryInProgress):
		result = fmt.Sprint(result, " ErrDeliveryInProgress")
	default:
		result = fmt.Sprint(result, " error: ", err)
	}
	sc.log = append(sc.log, fmt.Sprintf("%s: %v", what, result))
}

// TestStoreMatchesMoto runs the same state store operations — requests
// and lines under conflicts, tracked jobs, delivery claims — over moto and
// over ddbmem, and compares every answer and the tables' contents.
func TestStoreMatchesMoto(t *testing.T) {
	var logs [2][]string
	for i, sd := range sides(t) {
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		sc := &script{t: t, ctx: context.Background(), now: &now,
			s: state.New(sd.client, sd.table, state.Options{Now: func() time.Time { return now }})}
		sc.requests()
		sc.lines()
		sc.jobs()
		sc.claims()
		logs[i] = append(sc.log, dump(t, sd, []string{"req#r1", "req#r2", "line#d1#dev", "job#d1#dev#a", "job#d1#dev#b",
			"env#d1#dev", "evt#k#eventbridge", "evt#k#sns"}))
	}
	if len(logs[0]) != len(logs[1]) {
		t.Fatalf("moto answered %d times, ddbmem %d", len(logs[0]), len(logs[1]))
	}
	for i := range logs[0] {
		if logs[0][i] != logs[1][i] {
			t.Errorf("moto:   %s\nddbmem: %s", logs[0][i], logs[1][i])
		}
	}
}

func (sc *script) requests() {
	edit := func(what string, r *state.Request, change func(*state.Request) (bool, error)) {
		var seen []string
		err := sc.s.EditRequest(sc.ctx, r, func(x *state.Request) (bool, error) {
			seen = append(seen, fmt.Sprint(x.State, x.Rev, x.JobID))
			return change(x)
		})
		sc.note(what, fmt.Sprint(seen, " → ", r.State, r.Rev, r.JobID, r.LockToken), err)
	}
	always := func(f func(*state.Request)) func(*state.Request) (bool, error) {
		return func(x *state.Request) (bool, error) { f(x); return true, nil }
	}
	edit("create", state.NewRequest("r1"), always(func(x *state.Request) { x.Fingerprint = "f" }))
	edit("create again", state.NewRequest("r1"), func(x *state.Request) (bool, error) { return !x.Exists(), nil })
	a, err := sc.s.Request(sc.ctx, "r1")
	sc.note("read", a.Rev, err)
	b, _ := sc.s.Request(sc.ctx, "r1")
	edit("lease", a, always(func(x *state.Request) { x.Lease("t", *sc.now) }))
	edit("stale edit", b, always(func(x *state.Request) { _ = x.To(state.Starting); x.JobID = "j" }))
	sc.note("drop stale", "", sc.s.DropRequest(sc.ctx, a))
	sc.note("drop", "", sc.s.DropRequest(sc.ctx, b))
	gone, err := sc.s.Request(sc.ctx, "r1")
	sc.note("read dropped", gone == nil, err)
	edit("write anew", b, always(func(x *state.Request) { x.Error = "anew" }))
	edit("refuse", state.NewRequest("r2"), func(*state.Request) (bool, error) { return false, errors.New("refused") })
}

func (sc *script) lines() {
	l, err := sc.s.Line(sc.ctx, "d1", "dev")
	sc.note("empty line", fmt.Sprint(l.Exists(), len(l.Entries)), err)
	stale := *l
	add := func(what string, l *state.Line, id string) {
		err := sc.s.EditLine(sc.ctx, l, func(x *state.Line) (bool, error) {
			if x.Position(id) >= 0 {
				return false, nil
			}
			x.Entries = append(x.Entries, state.LineEntry{RequestID: id, ArrivedAt: *sc.now, Request: state.WaitingRequest{Operation: "CloneBackend"}})
			return true, nil
		})
		ids := []string{}
		for _, e := range l.Entries {
			ids = append(ids, e.RequestID)
		}
		sc.note(what, fmt.Sprint(ids, l.Rev, l.ExpiresAt), err)
	}
	add("join", l, "a")
	add("join", l, "b")
	add("stale join", &stale, "c")
	add("join twice", &stale, "c")
	err = sc.s.EditLine(sc.ctx, l, func(x *state.Line) (bool, error) { x.Entries = nil; return true, nil })
	sc.note("empty it", fmt.Sprint(l.Rev, l.ExpiresAt), err)
}

func (sc *script) jobs() {
	for _, id := range []string{"a", "b", "a"} {
		started, err := sc.s.TrackJob(sc.ctx, sc.job(id), "submit")
		sc.note("track "+id, started, err)
	}
	running := func() {
		ids, err := sc.s.RunningJobs(sc.ctx, "d1", "dev")
		slices.Sort(ids)
		sc.note("running", ids, err)
	}
	running()
	a, b := state.JobKey{AppID: "d1", Env: "dev", JobID: "a"}, state.JobKey{AppID: "d1", Env: "dev", JobID: "b"}
	sc.note("finish a", "", sc.s.FinishJob(sc.ctx, sc.job("a"), contract.StatusChange{Status: "COMPLETED", Polls: 3}))
	ended, err := sc.s.EndedJobs(sc.ctx, []state.JobKey{a, b, {AppID: "d1", Env: "dev", JobID: "x"}})
	sc.note("ended", fmt.Sprint(ended[a], ended[b], len(ended)), err)
	msgs, err := sc.s.TrackedMessages(sc.ctx, "d1", "dev")
	sc.note("messages", len(msgs), err)
	claim, err := sc.s.ClaimJob(sc.ctx, sc.job("c"), "sweep", sc.now.Add(time.Minute))
	sc.note("claim c", claim != nil, err)
	if claim != nil {
		sc.note("release c", "", sc.s.ReleaseJob(sc.ctx, claim))
	}
	running()
}

// job is the tracking message of job id on d1/dev.
func (sc *script) job(id string) contract.TrackingMessage {
	return contract.TrackingMessage{Version: 1, AppID: "d1", BackendEnvironmentName: "dev", JobID: id,
		Operation: "UpdateBackendAPI", SubmittedAt: *sc.now, Deadline: sc.now.Add(time.Hour)}
}

func (sc *script) claims() {
	eb, sns := state.DeliveryKey{EventKey: "k", Sink: "eventbridge"}, state.DeliveryKey{EventKey: "k", Sink: "sns"}
	claim := func(what string, k state.DeliveryKey) {
		done, err := sc.s.ClaimDelivery(sc.ctx, k, sc.now.Add(time.Minute))
		sc.note(what, done, err)
	}
	claim("claim", eb)
	claim("claim held", eb)
	*sc.now = sc.now.Add(2 * time.Minute)
	claim("claim lapsed", eb)
	sc.note("release", "", sc.s.ReleaseDelivery(sc.ctx, eb))
	claim("claim released", eb)
	sc.note("complete", "", sc.s.CompleteDelivery(sc.ctx, eb, sc.now.Add(time.Hour)))
	sc.note("release completed", "", sc.s.ReleaseDelivery(sc.ctx, eb))
	claim("claim completed", eb)
	claim("other sink", sns)
}
