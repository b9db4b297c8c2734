package metrics_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/internal/metrics"
)

// TestFlushWritesEMF records metrics under two dimension sets and checks
// the lines against the Embedded Metric Format: one per set, each a
// valid EMF document with every named metric present as a number (or an
// array of numbers) with its unit.
func TestFlushWritesEMF(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, "jobwatch-test")
	clone := metrics.Dims{"Operation": "CloneBackend", "Status": "COMPLETED"}
	r.Count(metrics.JobsEnded, clone)
	r.Add(metrics.JobDurationSeconds, 312.5, clone)
	r.Count(metrics.JobsEnded, clone)
	r.Count(metrics.AdminAPICalls, metrics.Dims{"Operation": "GetBackendJob"})
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one per metric and dimension set:\n%s", len(lines), out.String())
	}
	docs, err := metrics.ParseEMF(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ended := docs[0]
	if got := ended.Values[metrics.JobsEnded]; len(got) != 2 || got[0] != 1 {
		t.Errorf("JobsEnded = %v, want two values of 1", got)
	}
	// JobsEnded is written by operation and status, by status (for the
	// failed-jobs alarm) and in all.
	if got := fmt.Sprint(ended.DimensionSets); got != "[[Operation Status] [Status] []]" || ended.Dims["Status"] != "COMPLETED" || ended.Namespace != "jobwatch-test" {
		t.Errorf("JobsEnded record = %+v", ended)
	}
	if d := docs[1]; d.Units[metrics.JobDurationSeconds] != metrics.Seconds || fmt.Sprint(d.DimensionSets) != "[[Operation Status] []]" {
		t.Errorf("JobDurationSeconds record = %+v", d)
	}
	if d := docs[2]; d.Values[metrics.AdminAPICalls][0] != 1 || d.Dims["Operation"] != "GetBackendJob" {
		t.Errorf("AdminApiCalls record = %+v", d)
	}
	out.Reset()
	if err := r.Flush(); err != nil || out.Len() != 0 {
		t.Errorf("a second Flush wrote %q (%v); want nothing", out.String(), err)
	}
}

// TestFlushSplitsLongSeries checks EMF's limit of 100 values per metric
// and line.
func TestFlushSplitsLongSeries(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, "")
	for range 250 {
		r.Add(metrics.DetectionLagSeconds, 2.5, nil)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	docs, err := metrics.ParseEMF(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var n []int
	for _, d := range docs {
		n = append(n, len(d.Values[metrics.DetectionLagSeconds]))
		if d.Namespace != metrics.DefaultNamespace {
			t.Errorf("namespace %q, want the default", d.Namespace)
		}
	}
	if len(n) != 3 || n[0] != 100 || n[1] != 100 || n[2] != 50 {
		t.Errorf("values per line %v, want 100, 100, 50", n)
	}
}

// TestParseEMFRefuses checks the validation tests rely on.
func TestParseEMFRefuses(t *testing.T) {
	for name, line := range map[string]string{
		"no _aws":           `{"JobsEnded":1}`,
		"metric missing":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"JobsEnded","Unit":"Count"}]}]}}`,
		"not a number":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"JobsEnded","Unit":"Count"}]}]},"JobsEnded":"1"}`,
		"dimension missing": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Operation"]],"Metrics":[{"Name":"JobsEnded","Unit":"Count"}]}]},"JobsEnded":1}`,
		"bad unit":          `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"JobsEnded","Unit":"Things"}]}]},"JobsEnded":1}`,
		"no timestamp":      `{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"JobsEnded","Unit":"Count"}]}]},"JobsEnded":1}`,
	} {
		if _, err := metrics.ParseEMF([]byte(line)); err == nil {
			t.Errorf("%s: ParseEMF accepted %s", name, line)
		}
	}
}

// A nil Recorder records nothing and does not fail: functions built
// without metrics work the same.
func TestNilRecorder(t *testing.T) {
	var r *metrics.Recorder
	r.Count(metrics.JobsEnded, nil)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
}

// Summarize reads back what Recorders printed: outcomes by status, lag
// percentiles, Admin API calls and throttles.
func TestSummarize(t *testing.T) {
	var out bytes.Buffer
	for i := range 20 {
		r := metrics.New(&out, "jobwatch")
		status := "COMPLETED"
		if i%5 == 0 {
			status = "FAILED"
		}
		r.Count(metrics.JobsEnded, metrics.Dims{"Operation": "CloneBackend", "Status": status})
		r.Add(metrics.DetectionLagSeconds, float64(i+1), metrics.Dims{"Operation": "CloneBackend"})
		r.AdminAPIAttempt("GetBackendJob", i%4 == 0)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := metrics.ParseEMF(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s := metrics.Summarize(recs)
	if s.Ended["COMPLETED"] != 16 || s.Ended["FAILED"] != 4 || len(s.Ended) != 2 {
		t.Errorf("ended = %v, want 16 COMPLETED, 4 FAILED", s.Ended)
	}
	if p50, p95 := s.LagPercentile(0.5), s.LagPercentile(0.95); p50 != 10 || p95 != 19 {
		t.Errorf("lag p50 %v p95 %v, want 10 and 19", p50, p95)
	}
	if s.APICalls != 20 || s.APIThrottled != 5 {
		t.Errorf("API calls %d throttled %d, want 20 and 5", s.APICalls, s.APIThrottled)
	}
	want := []string{"jobs ended: 16 COMPLETED, 4 FAILED", "detection lag: p50 10.0s, p95 19.0s (20 jobs)", "Admin API: 20 calls, 5 throttled"}
	if got := s.Lines(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}
