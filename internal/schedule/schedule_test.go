package schedule

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestNew(t *testing.T) {
	for _, name := range Names() {
		p, err := New(name, 1)
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		if p.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, p.Name())
		}
	}
	if _, err := New("fixed-1s", 1); err == nil {
		t.Error("an unknown policy was accepted")
	}
}

func TestFixed(t *testing.T) {
	p := Fixed{10 * time.Second}
	if got := p.Next(Job{Polls: 7}, t0); got != t0.Add(10*time.Second) {
		t.Errorf("Next = %v", got)
	}
}

// TestWaiter checks the k-th delay lies in [Min, min(Max, Min·2^(k-1))]
// and that the policy is deterministic for a seed.
func TestWaiter(t *testing.T) {
	w1, w2 := NewWaiter(2*time.Second, 120*time.Second, 7), NewWaiter(2*time.Second, 120*time.Second, 7)
	for attempt := 1; attempt <= 12; attempt++ {
		ceiling := min(120*time.Second, 2*time.Second<<(attempt-1))
		for range 50 {
			d := w1.Next(Job{Polls: attempt}, t0).Sub(t0)
			if d < 2*time.Second || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside [2s, %v]", attempt, d, ceiling)
			}
			if d2 := w2.Next(Job{Polls: attempt}, t0).Sub(t0); d2 != d {
				t.Fatalf("same seed, different delays: %v vs %v", d, d2)
			}
		}
	}
}

// TestAdaptive walks a job through the phases of the adaptive policy once
// it has learnt an operation's durations.
func TestAdaptive(t *testing.T) {
	p := NewAdaptive(Default)
	start := t0
	job := Job{Operation: "CloneBackend", Started: start, Polls: 1}

	// Knows nothing: polls every Cold.
	if got := p.Next(job, start.Add(10*time.Second)); got != start.Add(10*time.Second+Default.Cold) {
		t.Errorf("cold: Next = %v", got.Sub(start))
	}
	// Learn durations of 5..14 minutes.
	for i := range 10 {
		p.Observe("CloneBackend", time.Duration(5+i)*time.Minute)
	}
	lo, hi, known := p.Window("CloneBackend")
	if !known || lo != 5*time.Minute || hi != 14*time.Minute {
		t.Fatalf("window = %v..%v (known %v), want 5m..14m", lo, hi, known)
	}
	tests := map[string]struct {
		at   time.Duration // since start
		want time.Duration // since start
	}{
		"before the window: jump to its start": {at: 10 * time.Second, want: 5 * time.Minute},
		"inside the window: dense":             {at: 6 * time.Minute, want: 6*time.Minute + Default.Dense},
		"just past the window: still dense":    {at: 14*time.Minute + 10*time.Second, want: 14*time.Minute + 10*time.Second + Default.Dense},
		"far past: back off":                   {at: 54 * time.Minute, want: 64 * time.Minute},
		"very far past: capped at MaxInterval": {at: 5 * time.Hour, want: 5*time.Hour + Default.MaxInterval},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := p.Next(job, start.Add(tc.at)).Sub(start); got != tc.want {
				t.Errorf("Next at %v = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
	// Another operation is still unknown.
	if got := p.Next(Job{Operation: "UpdateBackendAPI", Started: start}, start); got != start.Add(Default.Cold) {
		t.Errorf("unknown op: Next = %v", got.Sub(start))
	}
}

// TestAdaptiveForgets checks the window follows drift: old durations leave
// the window once Window newer ones were seen.
func TestAdaptiveForgets(t *testing.T) {
	cfg := Default
	cfg.Window = 20
	p := NewAdaptive(cfg)
	for range 20 {
		p.Observe("op", time.Minute)
	}
	for range 20 {
		p.Observe("op", time.Hour)
	}
	if lo, hi, _ := p.Window("op"); lo != time.Hour || hi != time.Hour {
		t.Errorf("window = %v..%v after drift to 1h", lo, hi)
	}
}

// TestHintedDefer checks the hinted policy puts off the first lookup of a
// job a hint announces, once it knows its operation's durations, and
// never that of a job whose operation deploys nothing.
func TestHintedDefer(t *testing.T) {
	h := NewHinted(HintedFallback)
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clone := Job{Operation: "CloneBackend", Started: start}
	if _, ok := h.Defer(clone, start.Add(10*time.Second)); ok {
		t.Error("deferred before any duration was seen")
	}
	for i := range 20 {
		h.Observe("CloneBackend", time.Duration(8+i%5)*time.Minute)
		h.Observe("GenerateBackendAPIModels", time.Duration(50+i)*time.Second)
	}
	at, ok := h.Defer(clone, start.Add(10*time.Second))
	if lo, _, _ := h.hinted.Window("CloneBackend"); !ok || !at.Equal(start.Add(lo)) || lo < 8*time.Minute {
		t.Errorf("Defer(clone) = %v, %v; want the low quantile of its durations (%v after its start)", at, ok, lo)
	}
	if _, ok := h.Defer(Job{Operation: "GenerateBackendAPIModels", Started: start}, start.Add(10*time.Second)); ok {
		t.Error("deferred a job no hint announces")
	}
	if _, ok := h.Defer(clone, start.Add(time.Hour)); ok {
		t.Error("deferred a job already past its low quantile")
	}
}
