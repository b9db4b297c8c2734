package e2e

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/soak"
)

// soakSeed makes the emulator's 11th job stick and three of its first 20
// fail: the short run starts at least 20 jobs (one per environment), so it
// surely sees a FAILED job and a TIMED_OUT one, and the requests queued
// behind the stuck job time out waiting.
const soakSeed = 10

// TestSoak is the short run of `make soak` (issue 7): 60 job requests over
// 20 environments through the real template, with the emulator's faults
// (20 % throttled, 5 % 504, a NotFound window, 5 % failing and 1 % stuck
// jobs), duplicated requests and messages, and poll's runtime killed in
// the middle of a batch twice. Every request ends exactly once, no sink
// gets a change twice, the dead-letter queues stay empty, and the last
// line says so.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	res, err := soak.Run(ctx, soak.Options{
		Jobs: 60, Environments: 20, Template: "../template.yaml", WorkDir: keptOnFailure(t), Seed: soakSeed,
		// Jobs run 2 to 6 s: a STILL_RUNNING warning after 4 s reaches the
		// longer ones that are looked up in time, whatever the outage does
		// to the stuck job's lookups.
		Timeout: 2 * time.Minute, JobDeadline: 25 * time.Second, StillRunningAfter: 4 * time.Second,
		WaitDeadline: 40 * time.Second, DuplicateRate: 0.2, Linger: 3 * time.Second,
		// An Admin API outage of 15 s, three times the visibility timeout,
		// and a tenth of the job-starting answers lost (DefaultFaults).
		OutageAfter: 5 * time.Second, OutageFor: 15 * time.Second,
		// The discovery sweep runs every 10 s, among the faults: it must
		// leave jobwatch's own jobs to submit (SWEEP_MIN_AGE).
		ScheduleEvery: 10 * time.Second,
	}, &out)
	t.Logf("soak took %s:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^soak: jobs=\d+ terminal=\d+ lost=\d+ duplicates=\d+ started_twice=\d+ dlq=\d+$`).MatchString(last) {
		t.Errorf("last line %q is not soak: jobs=N terminal=N lost=N duplicates=N started_twice=N dlq=N", last)
	}
	if want := "soak: jobs=60 terminal=60 lost=0 duplicates=0 started_twice=0 dlq=0"; last != want {
		t.Errorf("last line = %q, want %q", last, want)
	}
	if len(res.Kills) != 2 {
		t.Errorf("poll's runtime was killed mid-batch %d times, want 2", len(res.Kills))
	}
	for _, k := range res.Kills {
		if len(k.Requests) < 2 {
			t.Errorf("kill at %s hit a batch of %d tracking messages, want several", k.At, len(k.Requests))
		}
	}
	i := res.Injected
	if i.Requests == 0 || i.TrackingCopies == 0 || i.CompletionCopies+i.Redelivered == 0 {
		t.Errorf("duplicates injected = %+v, want some of each kind", i)
	}
	if res.Outcomes[contract.StatusFailed] == 0 || res.Outcomes[contract.StatusTimedOut] == 0 || res.StillRunning == 0 {
		t.Errorf("outcomes %v, %d STILL_RUNNING: want FAILED and TIMED_OUT jobs and a warning (seed %d no longer sticks or fails a job; pick another)",
			res.Outcomes, res.StillRunning, soakSeed)
	}
	if res.API.Throttled == 0 || res.API.GatewayTimeouts == 0 || res.API.NotFound == 0 || res.API.LostAnswers == 0 || res.API.Outage == 0 {
		t.Errorf("Admin API faults seen = %+v, want throttling, 504s, NotFound, lost answers and an outage", res.API)
	}
	for id, n := range res.DeadLetters {
		if n != 0 {
			t.Errorf("%s holds %d messages", id, n)
		}
	}
}

// keptOnFailure is a directory for a test's work, removed when the test
// passes and kept (its path logged) when it fails, for the logs in it.
func keptOnFailure(t *testing.T) string {
	dir, err := os.MkdirTemp("", "jobwatch-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("work directory kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}
