package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/soak"
)

func init() {
	commands["soak"] = command{"push many jobs through the local stack under faults; check none is lost or announced twice", runSoak}
}

const soakUsage = `usage: jobwatch soak [flags]

Stands the SAM application of template.yaml up on this machine like
jobwatch demo (moto, the Admin API emulator, the functions' bootstraps
under the Lambda Runtime Interface Emulator, a Slack stand-in and a queue
subscribed to the topic) and puts --jobs job requests on the event bus,
spread over --jobs/10 backend environments so that requests wait in line.
The emulator throttles 20% of the Admin API calls, times out 5%, answers
NotFound for a new job for 3s, fails 5% of the jobs and leaves 1% running
for ever (they end TIMED_OUT at a 45s JobDeadline); some requests and
queue messages are duplicated, the poll function's runtime is killed in
the middle of a batch twice, and the discovery sweep runs every 30s. It
then checks that every request got exactly one terminal status change on
the bus, that no event, Slack post or SNS message came twice for one event
key, and that every dead-letter queue is empty. The last line is

  soak: jobs=N terminal=N lost=0 duplicates=0 started_twice=0 dlq=0

and the exit status is 1 when an invariant failed (each is printed).

flags:
`

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, soakUsage); fs.PrintDefaults() }
	o := soak.Options{}
	fs.IntVar(&o.Jobs, "jobs", 1000, "how many job `REQUESTS` to submit")
	fs.Uint64Var(&o.Seed, "seed", 1, "`SEED` of the emulator's outcomes, the operations and the duplicates")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up `DURATION` after the functions are up (building them does not count)")
	fs.StringVar(&o.Template, "template", "template.yaml", "the SAM `TEMPLATE` (its directory is the Go module to build)")
	fs.StringVar(&o.WorkDir, "work-dir", ".jobwatch/soak", "where builds and logs go (kept after the run)")
	fs.DurationVar(&o.ScheduleEvery, "schedule-every", 30*time.Second, "run the scheduled functions (the discovery sweep) every `DURATION` (deployed: 5m)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Jobs < 10 || o.Jobs > 100000 {
		return usagef("--jobs must be from 10 to 100000, got %d", o.Jobs)
	}
	if o.Timeout <= 0 {
		return usagef("--timeout must be positive, got %s", o.Timeout)
	}
	if o.ScheduleEvery <= 0 {
		return usagef("--schedule-every must be positive, got %s", o.ScheduleEvery)
	}
	_, err := soak.Run(ctx, o, stdout)
	return err
}
