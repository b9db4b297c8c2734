package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/bench"
	"github.com/jobwatch/jobwatch/internal/dev/coldstart"
)

func init() {
	commands["bench"] = command{"compare poll policies on a simulated day of jobs (or measure cold starts)", runBench}
}

const benchUsage = `usage: jobwatch bench [flags]
       jobwatch bench --coldstart [--runs N]

Simulates a day of Amplify Admin API jobs on a virtual clock, through the
real poll code, once per poll policy (side by side, same jobs), and prints
per job what each policy costs (Admin API calls, Lambda invocations, SQS
requests, dollars at AWS list prices) and how late it noticed that jobs
ended (p50/p95/p99/max). The default is the standard workload: 10,000 jobs
over 24 h on 200 environments, lognormal durations (σ 0.5), 1 % stuck.

--coldstart instead builds each function's bootstrap and a hello-world
aws-lambda-go function for this machine, and reports their sizes and the
time to a first successful invoke under the Lambda Runtime Interface
Emulator (median of --runs; run from the module).

flags:
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	w := bench.Standard()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&w.Jobs, "jobs", w.Jobs, "job requests in the workload")
	fs.Uint64Var(&w.Seed, "seed", w.Seed, "seed of the workload and of the policies' randomness")
	fs.Float64Var(&w.Sigma, "sigma", w.Sigma, "σ of the lognormal job durations")
	fs.IntVar(&w.Envs, "envs", w.Envs, "backend environments (one job at a time each)")
	fs.Float64Var(&w.Hours, "hours", w.Hours, "span of the arrivals, in hours")
	stuck := rateFlag(w.StuckRate)
	fs.Var(&stuck, "stuck-rate", "share of jobs that never end (0 to 1)")
	policies := fs.String("policies", strings.Join(bench.Policies(), ","), "policies to compare (comma list)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object (on the last line)")
	plot := fs.String("plot", "", "draw p95 lag against API calls per job into this PNG `file`")
	hintDelay := fs.Duration("hint-delay", w.HintDelay, "how long after a job's end its stack event reaches poll")
	hintShare := rateFlag(w.HintShare)
	fs.Var(&hintShare, "hint-share", "share of jobs whose end sends a hint (0 to 1)")
	cold := fs.Bool("coldstart", false, "measure binary sizes and cold starts under the Runtime Interface Emulator instead")
	runs := fs.Int("runs", 7, "with --coldstart: runs per function (the median is reported)")
	positional, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usagef("unexpected argument %q; bench takes flags only", positional[0])
	}
	if *cold {
		return runColdstart(ctx, *runs, stdout, stderr)
	}
	if *hintDelay < 0 {
		return usagef("invalid value %q for flag -hint-delay: want a duration that is not negative", hintDelay.String())
	}
	w.StuckRate, w.HintShare, w.HintDelay = float64(stuck), float64(hintShare), *hintDelay
	if err := w.Check(); err != nil {
		return usagef("%v", err)
	}
	names, err := policyNames(*policies)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := bench.Run(ctx, bench.Options{Workload: w, Policies: names})
	if err != nil {
		return err
	}
	if *plot != "" {
		if err := bench.Plot(rep, *plot); err != nil {
			return err
		}
	}
	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *plot != "" {
		fmt.Fprintf(stdout, "plot: %s\n", *plot)
	}
	_, err = fmt.Fprintf(stdout, "wall time %.1fs\n", time.Since(start).Seconds())
	return err
}

// policyNames reads the --policies list: known policies, at least one.
func policyNames(list string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, usagef("invalid value %q for flag -policies: name at least one of %s", list, strings.Join(bench.Policies(), ", "))
	}
	for _, n := range names {
		if !known(n) {
			return nil, usagef("invalid value %q for flag -policies: unknown policy %q; want a comma list of %s", list, n, strings.Join(bench.Policies(), ", "))
		}
	}
	return names, nil
}

func known(name string) bool {
	for _, p := range bench.Policies() {
		if p == name {
			return true
		}
	}
	return false
}

func runColdstart(ctx context.Context, runs int, stdout, stderr io.Writer) error {
	if runs < 1 {
		return usagef("invalid value %d for flag -runs: want at least 1", runs)
	}
	results, err := coldstart.Run(ctx, coldstart.Options{Runs: runs, Log: stderr})
	if err != nil {
		return err
	}
	return coldstart.WriteTable(stdout, results)
}
