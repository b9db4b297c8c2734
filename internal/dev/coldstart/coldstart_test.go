package coldstart

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestColdStartPoll measures poll and the baseline once: both build, start
// under the emulator and answer, and the table shows them. It is skipped
// when the emulator cannot run here or the whole takes over 60 s.
func TestColdStartPoll(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	results, err := Run(ctx, Options{Runs: 1, Only: []string{"poll"}})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Skipf("took over 60 s: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "runtime interface emulator") {
		t.Skipf("the runtime interface emulator cannot run here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Name != Baseline || results[1].Name != "poll" {
		t.Fatalf("results %+v, want hello then poll", results)
	}
	for _, r := range results {
		if r.SizeBytes < 1<<20 || r.ColdStart <= 0 || len(r.Runs) != 1 {
			t.Errorf("%s: %d bytes, cold start %v, %d runs", r.Name, r.SizeBytes, r.ColdStart, len(r.Runs))
		}
	}
	if results[0].SizeRatio != 1 || results[0].StartRatio != 1 {
		t.Errorf("the baseline's ratios are %v and %v, want 1", results[0].SizeRatio, results[0].StartRatio)
	}
	var out bytes.Buffer
	if err := WriteTable(&out, results); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "poll") || !strings.Contains(out.String(), "vs hello") {
		t.Errorf("table:\n%s", out.String())
	}
}
