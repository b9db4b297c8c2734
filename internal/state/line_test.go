package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/state"
)

// TestLine fills and empties a line: an absent line reads empty, a line in
// use has no expiry, an empty one expires after a week.
func TestLine(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := newStore(t, state.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	l, err := s.Line(ctx, "d1", "dev")
	if err != nil || l.Exists() || len(l.Entries) != 0 || l.AppID != "d1" || l.BackendEnvironmentName != "dev" {
		t.Fatalf("absent line = %+v, %v; want an empty one for d1/dev", l, err)
	}
	add := func(l *state.Line, id string) error {
		return s.EditLine(ctx, l, func(x *state.Line) (bool, error) {
			x.Entries = append(x.Entries, state.LineEntry{RequestID: id, ArrivedAt: now, Deadline: now.Add(time.Hour),
				Request: state.WaitingRequest{Operation: "CloneBackend", Input: `{"AppId":"d1"}`}})
			return true, nil
		})
	}
	for _, id := range []string{"a", "b"} {
		if err := add(l, id); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Line(ctx, "d1", "dev")
	if err != nil || got.Position("b") != 1 || got.Position("z") != -1 || got.ExpiresAt != 0 || got.Entries[0].Request.Input != `{"AppId":"d1"}` {
		t.Errorf("line in use = %+v, %v; want [a b] without expiry", got, err)
	}
	if err := s.EditLine(ctx, got, func(x *state.Line) (bool, error) { x.Entries = nil; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Line(ctx, "d1", "dev"); len(got.Entries) != 0 || got.ExpiresAt != now.Add(7*24*time.Hour).Unix() {
		t.Errorf("empty line = %+v; want it to expire in 7 days", got)
	}
	// l is stale (rev 2, the line is at 3): its change runs on the line as it is.
	if err := add(l, "c"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Line(ctx, "d1", "dev"); len(got.Entries) != 1 || got.Entries[0].RequestID != "c" || got.ExpiresAt != 0 {
		t.Errorf("after a stale add: %+v; want [c]", got)
	}
}

// TestLineFits bounds a line's size below DynamoDB's item limit.
func TestLineFits(t *testing.T) {
	l := &state.Line{}
	big := strings.Repeat("x", 120*1024)
	for i := range 3 {
		l.Entries = append(l.Entries, state.LineEntry{RequestID: string(rune('a' + i)), Request: state.WaitingRequest{Input: big}})
		if fits := l.Fits(); fits != (i < 2) {
			t.Errorf("%d entries of 120 KB: Fits = %v", i+1, fits)
		}
	}
}

// TestEditLineRefusal ends an edit with the change's error, unwritten.
func TestEditLineRefusal(t *testing.T) {
	s := newStore(t, state.Options{})
	ctx := context.Background()
	l, _ := s.Line(ctx, "d1", "dev")
	full := errors.New("the line is full")
	if err := s.EditLine(ctx, l, func(*state.Line) (bool, error) { return false, full }); !errors.Is(err, full) {
		t.Errorf("refused edit: %v", err)
	}
	if got, _ := s.Line(ctx, "d1", "dev"); got.Exists() {
		t.Errorf("a refused edit wrote %+v", got)
	}
}

// TestLineMarkers keeps the requests starting on the line item: the sweep
// reads them, and the head of the line, without reading the waiting
// inputs, and a line with a request starting does not expire.
func TestLineMarkers(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := newStore(t, state.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	l, _ := s.Line(ctx, "d1", "dev")
	err := s.EditLine(ctx, l, func(x *state.Line) (bool, error) {
		x.Mark(state.StartMarker{RequestID: "r-1", Operation: "CloneBackend", At: now})
		x.WakeID, x.WakeAt = "w-1", now.UnixMilli()
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Line(ctx, "d1", "dev"); got.ExpiresAt != 0 {
		t.Errorf("an empty line with a request starting expires at %d; want never", got.ExpiresAt)
	}
	err = s.EditLine(ctx, l, func(x *state.Line) (bool, error) {
		x.Entries = append(x.Entries, state.LineEntry{RequestID: "r-2", Request: state.WaitingRequest{Operation: "CloneBackend", Input: `{"secret":"s"}`}},
			state.LineEntry{RequestID: "r-3", Request: state.WaitingRequest{Operation: "CloneBackend", Input: `{"secret":"t"}`}})
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.LineSummary(ctx, "d1", "dev")
	if err != nil || !sum.Exists() || len(sum.Entries) != 0 || sum.Waiting != 2 || sum.WakeID != "w-1" || len(sum.Starting) != 1 {
		t.Fatalf("summary = %+v, %v; want 2 waiting (without their inputs), the wake-up and the marker", sum, err)
	}
	tests := map[string]struct {
		op      string
		created time.Time
		want    bool
	}{
		"same operation, created after":              {"CloneBackend", now.Add(time.Second), true},
		"same operation, created within the skew":    {"CloneBackend", now.Add(-state.ClockSkew), true},
		"same operation, created before the skew":    {"CloneBackend", now.Add(-state.ClockSkew - time.Second), false},
		"another operation, created after the start": {"UpdateBackendAPI", now.Add(time.Second), false},
	}
	for name, tc := range tests {
		if got := sum.Reconciling(tc.op, tc.created); got != tc.want {
			t.Errorf("%s: Reconciling = %v, want %v", name, got, tc.want)
		}
	}
	if !sum.WakePending(now.Add(state.WakeGrace-time.Second)) || sum.WakePending(now.Add(state.WakeGrace)) {
		t.Errorf("a wake-up due now is pending until WakeGrace has passed")
	}
	if !l.Unmark("r-1") || l.Unmark("r-1") {
		t.Errorf("Unmark: want true, then false")
	}
}
