package emulator_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

func newJobs(clock emulator.Clock, fail, stuck float64) *emulator.Jobs {
	return emulator.NewJobs(emulator.JobsConfig{
		Clock: clock, Rand: rand.New(rand.NewPCG(1, 2)),
		Durations: emulator.FixedDurations(3*time.Second, nil),
		FailRate:  fail, StuckRate: stuck,
	})
}

func TestJobStatusFollowsClock(t *testing.T) {
	tests := map[string]struct {
		fail, stuck float64
		want        string
		wantError   bool
	}{
		"completes":  {want: "COMPLETED"},
		"fails":      {fail: 1, want: "FAILED", wantError: true},
		"gets stuck": {stuck: 1, want: "RUNNING"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := emulator.NewManualClock(epoch)
			jobs := newJobs(clock, tc.fail, tc.stuck)
			job, err := jobs.Create("app", "dev", "CloneBackend")
			if err != nil {
				t.Fatal(err)
			}
			if job.Status != "RUNNING" || !job.CreateTime.Equal(epoch) || job.JobId == "" {
				t.Fatalf("new job = %+v, want RUNNING created at %v with an id", job, epoch)
			}
			clock.Advance(3*time.Second - time.Millisecond)
			if got, _ := jobs.Get("app", "dev", job.JobId); got.Status != "RUNNING" {
				t.Fatalf("status just before its duration = %s, want RUNNING", got.Status)
			}
			clock.Advance(time.Millisecond)
			if tc.stuck > 0 {
				clock.Advance(1000 * time.Hour)
			}
			got, _ := jobs.Get("app", "dev", job.JobId)
			if got.Status != tc.want || (got.Error != "") != tc.wantError {
				t.Fatalf("status after its duration = %s (error %q), want %s (error: %v)", got.Status, got.Error, tc.want, tc.wantError)
			}
			if tc.want != "RUNNING" && !got.UpdateTime.Equal(epoch.Add(3*time.Second)) {
				t.Errorf("UpdateTime = %v, want the end %v", got.UpdateTime, epoch.Add(3*time.Second))
			}
		})
	}
}

func TestOneJobPerEnvironment(t *testing.T) {
	tests := map[string]struct {
		firstEnv, secondApp, secondEnv string
		wantRefusedEnv                 string // "" when the second job starts
	}{
		"same environment":         {firstEnv: "dev", secondApp: "app", secondEnv: "dev", wantRefusedEnv: "dev"},
		"other environment":        {firstEnv: "dev", secondApp: "app", secondEnv: "prod"},
		"other app":                {firstEnv: "dev", secondApp: "other", secondEnv: "dev"},
		"app-wide blocks an env":   {firstEnv: "", secondApp: "app", secondEnv: "prod", wantRefusedEnv: "prod"},
		"env blocks app-wide":      {firstEnv: "dev", secondApp: "app", secondEnv: "", wantRefusedEnv: "dev"},
		"app-wide blocks app-wide": {firstEnv: "", secondApp: "app", secondEnv: "", wantRefusedEnv: "*"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := emulator.NewManualClock(epoch)
			jobs := newJobs(clock, 0, 0)
			first, err := jobs.Create("app", tc.firstEnv, "RemoveAllBackends")
			if err != nil {
				t.Fatal(err)
			}
			_, err = jobs.Create(tc.secondApp, tc.secondEnv, "CloneBackend")
			if tc.wantRefusedEnv == "" {
				if err != nil {
					t.Fatalf("second job refused: %v", err)
				}
				return
			}
			pe := asError[*emulator.PendingJobError](t, err)
			want := "There is already a pending job for the requested appId app and backendEnvironmentName " + tc.wantRefusedEnv + ". Please wait for it to complete"
			if pe.Error() != want || pe.JobId != first.JobId {
				t.Fatalf("refusal = %q (blocked by %s), want %q (blocked by %s)", pe.Error(), pe.JobId, want, first.JobId)
			}
			if err := jobs.CanStart(tc.secondApp, tc.secondEnv); err == nil {
				t.Error("CanStart = nil while the first job runs")
			}
			clock.Advance(3 * time.Second)
			if _, err := jobs.Create(tc.secondApp, tc.secondEnv, "CloneBackend"); err != nil {
				t.Fatalf("second job refused after the first ended: %v", err)
			}
		})
	}
}

func TestUpdateJob(t *testing.T) {
	clock := emulator.NewManualClock(epoch)
	jobs := newJobs(clock, 0, 0)
	job, _ := jobs.Create("app", "dev", "CloneBackend")

	// A status other than COMPLETED or FAILED holds the job: the clock no
	// longer ends it and the environment stays busy.
	held, err := jobs.Update("app", "dev", job.JobId, emulator.JobUpdate{Status: "PAUSED", Operation: "Renamed"})
	if err != nil || held.Status != "PAUSED" || held.Operation != "Renamed" {
		t.Fatalf("Update = %+v, %v; want PAUSED, operation Renamed", held, err)
	}
	clock.Advance(time.Hour)
	if got, _ := jobs.Get("app", "dev", job.JobId); got.Status != "PAUSED" {
		t.Fatalf("held job after its duration: %s, want PAUSED", got.Status)
	}
	if _, err := jobs.Create("app", "dev", "CloneBackend"); err == nil {
		t.Fatal("a held job does not keep its environment busy")
	}

	failed, err := jobs.Update("app", "dev", job.JobId, emulator.JobUpdate{Status: "FAILED"})
	if err != nil || failed.Status != "FAILED" || failed.Error == "" || !failed.UpdateTime.Equal(clock.Now()) {
		t.Fatalf("Update to FAILED = %+v, %v; want FAILED with an Error, updated now", failed, err)
	}
	if _, err := jobs.Create("app", "dev", "CloneBackend"); err != nil {
		t.Fatalf("a job set to FAILED still blocks its environment: %v", err)
	}

	_, err = jobs.Update("app", "dev", job.JobId, emulator.JobUpdate{Status: "RUNNING"})
	if ended := asError[*emulator.JobEndedError](t, err); ended.Status != "FAILED" {
		t.Errorf("JobEndedError.Status = %s, want FAILED", ended.Status)
	}
	if _, err := jobs.Update("app", "prod", job.JobId, emulator.JobUpdate{Status: "COMPLETED"}); !errors.Is(err, emulator.ErrNoSuchJob) {
		t.Errorf("Update in another environment: %v, want ErrNoSuchJob", err)
	}
}

func TestListJobs(t *testing.T) {
	clock := emulator.NewManualClock(epoch)
	jobs := newJobs(clock, 0, 0)
	var ids []string // oldest first
	for i, scope := range []struct{ env, op string }{
		{"dev", "CloneBackend"}, {"prod", "CloneBackend"}, {"dev", "CreateBackendAuth"},
		{"", "RemoveAllBackends"}, {"dev", "CloneBackend"},
	} {
		job, err := jobs.Create("app", scope.env, scope.op)
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if scope.env != "prod" {
			ids = append(ids, job.JobId)
		}
		clock.Advance(time.Minute)
	}
	running, _ := jobs.Create("app", "dev", "DeleteBackend")
	ids = append(ids, running.JobId)

	tests := map[string]struct {
		filter emulator.JobFilter
		want   []string // newest first
	}{
		"all, app-wide included": {want: []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		"by operation":           {filter: emulator.JobFilter{Operation: "CloneBackend"}, want: []string{ids[3], ids[0]}},
		"by status":              {filter: emulator.JobFilter{Status: "RUNNING"}, want: []string{ids[4]}},
		"by job id":              {filter: emulator.JobFilter{JobId: ids[1]}, want: []string{ids[1]}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Page two at a time, as a client would.
			var got []string
			var before uint64
			for page := 0; ; page++ {
				list, more := jobs.List("app", "dev", tc.filter, before, 2)
				for _, j := range list {
					got = append(got, j.JobId)
				}
				if !more {
					break
				}
				if page > 10 {
					t.Fatal("paging does not end")
				}
				before = list[len(list)-1].Seq
			}
			if len(tc.want) == 0 {
				tc.want = nil
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
		})
	}
	if s := jobs.Stats(); s.Created != 6 || s.ByStatus["COMPLETED"] != 5 || s.ByStatus["RUNNING"] != 1 {
		t.Errorf("Stats = %+v, want 6 created: 5 COMPLETED, 1 RUNNING", s)
	}
}

// TestSimulatedDay runs what the benchmark will: 10,000 jobs over 24
// virtual hours with lognormal durations, without HTTP. It must be fast
// and replay exactly for a seed.
func TestSimulatedDay(t *testing.T) {
	const jobCount, envCount = 10_000, 400
	lognormal := func(_ string, r *rand.Rand) time.Duration {
		return time.Duration(math.Exp(math.Log(300)+r.NormFloat64()) * float64(time.Second)) // median 5 min
	}
	run := func(seed uint64) (emulator.JobStats, int, string) {
		clock := emulator.NewManualClock(epoch)
		jobs := emulator.NewJobs(emulator.JobsConfig{Clock: clock, Rand: rand.New(rand.NewPCG(seed, 0)),
			Durations: lognormal, FailRate: 0.05, StuckRate: 0.01})
		step := 24 * time.Hour / jobCount
		refused, last := 0, ""
		for created, i := 0, 0; created < jobCount; i++ {
			clock.Advance(step)
			env := fmt.Sprintf("env-%d", i%envCount)
			job, err := jobs.Create("app", env, "CloneBackend")
			var pe *emulator.PendingJobError
			switch {
			case errors.As(err, &pe):
				refused++
				continue
			case err != nil:
				t.Fatal(err)
			}
			created++
			last = job.JobId
		}
		clock.Advance(1000 * time.Hour)
		return jobs.Stats(), refused, last
	}
	began := time.Now()
	stats, refused, last := run(42)
	elapsed := time.Since(began)
	t.Logf("10,000 jobs over 24 virtual hours in %v: %+v, %d refused as pending", elapsed, stats, refused)

	if stats.Created != jobCount {
		t.Fatalf("created %d jobs, want %d", stats.Created, jobCount)
	}
	if n := stats.ByStatus["COMPLETED"] + stats.ByStatus["FAILED"] + stats.ByStatus["RUNNING"]; n != jobCount {
		t.Errorf("statuses %v add up to %d, want %d", stats.ByStatus, n, jobCount)
	}
	if f := stats.ByStatus["FAILED"]; f < 350 || f > 650 {
		t.Errorf("%d FAILED, want about 5%% of %d", f, jobCount)
	}
	if s := stats.ByStatus["RUNNING"]; s < 50 || s > 150 {
		t.Errorf("%d stuck RUNNING, want about 1%% of %d", s, jobCount)
	}
	again, refusedAgain, lastAgain := run(42)
	if lastAgain != last || refusedAgain != refused || again.ByStatus["FAILED"] != stats.ByStatus["FAILED"] {
		t.Errorf("seed 42 did not replay: last job %s vs %s, refused %d vs %d", last, lastAgain, refused, refusedAgain)
	}
	if _, _, other := run(43); other == last {
		t.Error("seeds 42 and 43 gave the same last job id")
	}
}
