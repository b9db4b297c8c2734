package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchJSON: with --json the last line of stdout is one JSON object
// with the workload and every policy, each with every field of the
// report's contract.
func TestBenchJSON(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "bench.png")
	code, stdout, stderr := runCLI(t, "bench", "--jobs", "200", "--envs", "20", "--hours", "3", "--seed", "7", "--json", "--plot", plot)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rep struct {
		Workload map[string]any   `json:"workload"`
		Policies []map[string]any `json:"policies"`
		Targets  []map[string]any `json:"targets"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("the last line is not the report: %v\n%s", err, lines[len(lines)-1])
	}
	if rep.Workload["jobs"] != 200.0 || rep.Workload["sigma"] != 0.5 || rep.Workload["seed"] != 7.0 {
		t.Errorf("workload %v", rep.Workload)
	}
	want := []string{"fixed-2s", "fixed-10s", "waiter-2s-120s", "jobwatch", "jobwatch-economy", "jobwatch-hinted"}
	if len(rep.Policies) != len(want) {
		t.Fatalf("%d policies, want %d", len(rep.Policies), len(want))
	}
	fields := []string{"apiCallsPerJob", "lambdaInvocationsPerJob", "sqsRequestsPerJob", "lagP50Seconds",
		"lagP95Seconds", "lagP99Seconds", "lagMaxSeconds", "costPer1000JobsUSD"}
	for i, p := range rep.Policies {
		if p["name"] != want[i] {
			t.Errorf("policy %d is %v, want %s", i, p["name"], want[i])
		}
		for _, f := range fields {
			if v, ok := p[f].(float64); !ok || v <= 0 {
				t.Errorf("%s: %s = %v, want a positive number", want[i], f, p[f])
			}
		}
	}
	if len(rep.Targets) != 3 {
		t.Errorf("%d targets, want 3", len(rep.Targets))
	}
	if fi, err := os.Stat(plot); err != nil || fi.Size() == 0 {
		t.Errorf("--plot wrote no file: %v", err)
	}
}

func TestBenchTable(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "--jobs", "50", "--envs", "10", "--hours", "2", "--policies", "fixed-10s,jobwatch")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"fixed-10s", "jobwatch", "API calls/job", "targets:", "prices (us-east-1, list, 2026-11-25)", "counted:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
}

func TestBenchBadFlags(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"not a number":   {[]string{"--jobs", "many"}, "-jobs"},
		"no jobs":        {[]string{"--jobs", "0"}, "jobs"},
		"stuck rate":     {[]string{"--stuck-rate", "1.5"}, "-stuck-rate"},
		"hint share":     {[]string{"--hint-share", "-0.1"}, "-hint-share"},
		"hint delay":     {[]string{"--hint-delay", "-1s"}, "-hint-delay"},
		"unknown policy": {[]string{"--policies", "fixed-10s,fixed-1s"}, "-policies"},
		"unknown flag":   {[]string{"--jobz", "5"}, "-jobz"},
		"positional":     {[]string{"fast"}, "fast"},
		"runs":           {[]string{"--coldstart", "--runs", "0"}, "-runs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"bench"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want a usage error naming %s", code, stderr, tc.want)
			}
		})
	}
}
