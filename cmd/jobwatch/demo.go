package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/demo"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

func init() {
	commands["demo"] = command{"run the main job end to end on this machine: submit, track and announce jobs", runDemo}
}

const demoUsage = `usage: jobwatch demo [flags]

Stands the SAM application of template.yaml up on this machine (moto server
and the Admin API emulator, the three functions' bootstraps under the Lambda
Runtime Interface Emulator), submits a handful of Amplify Admin API jobs
through the event bus — one of each outcome and one queued behind a pending
job on the same environment —, shows them being tracked, prints each
status-change event as it arrives, ends with a summary and tears everything
down. Needs Go and python3 with moto (both on the project's machine image).

flags:
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	o := demo.Options{}
	fs.StringVar(&o.Template, "template", "template.yaml", "the SAM `TEMPLATE` (its directory is the Go module to build)")
	fs.IntVar(&o.Jobs, "jobs", 6, "how many jobs to submit (at least 5)")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "give up `DURATION` after the functions are up (building them does not count)")
	fs.Var((*rateFlag)(&o.Faults.ThrottleRate), "throttle-rate", "`RATE` (0 to 1) of Admin API calls answered 429")
	fs.Var((*rateFlag)(&o.Faults.ErrorRate), "error-rate", "`RATE` (0 to 1) of Admin API calls answered 504")
	fs.Var((*rateFlag)(&o.Faults.FailRate), "fail-rate", "`RATE` (0 to 1) of jobs that end FAILED (one job fails anyway)")
	fs.Var((*durationFlag)(&o.Faults.NotFoundWindow), "not-found-window", "GetBackendJob answers NotFound for `DURATION` after a job starts")
	fs.Uint64Var(&o.Seed, "seed", 1, "`SEED` of the emulator's random choices")
	fs.StringVar(&o.WorkDir, "work-dir", ".jobwatch/demo", "where builds and logs go (kept after the run)")
	live := fs.Bool("live", isTerminal(stdout), "redraw a progress table in place (default when stdout is a terminal)")
	o.Faults.ThrottleRate, o.Faults.ErrorRate, o.Faults.NotFoundWindow = 0.1, 0.02, time.Second
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Jobs < 5 || o.Jobs > 200 {
		return usagef("--jobs must be from 5 to 200, got %d", o.Jobs)
	}
	if err := (emulator.Faults{ThrottleRate: o.Faults.ThrottleRate, ErrorRate: o.Faults.ErrorRate, FailRate: o.Faults.FailRate}).Validate(); err != nil {
		return usagef("%v", err)
	}
	o.Live = *live
	_, err := demo.Run(ctx, o, stdout)
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
