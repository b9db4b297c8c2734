package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

func init() {
	commands["emulator"] = command{"run the Amplify Admin API emulator on a local port", runEmulator}
}

const emulatorUsage = `usage: jobwatch emulator [--addr HOST:PORT] [flags]

Runs a stand-in for the Amplify Admin API (amplifybackend) that the aws
CLI, boto3 and jobwatch cannot tell from the service, faults included.
Point a client at it with --endpoint-url http://HOST:PORT (any signed
credentials will do). Prints "listening on http://HOST:PORT" once it
accepts connections and one line per request on stderr; stops on
SIGINT or SIGTERM. GET /_emulator/stats counts the calls; POST
/_emulator/faults changes the faults while it runs, e.g.
  curl -d '{"throttleRate":0.2,"latency":"150ms"}' http://HOST:PORT/_emulator/faults
A --state file preloads apps and environments:
  {"apps":[{"appId":"d1abc23","appName":"demo","environments":["dev","staging"]}]}

flags:
`

// shutdownGrace bounds how long requests in flight may take to finish.
const shutdownGrace = 5 * time.Second

func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, emulatorUsage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:4510", "listen on `HOST:PORT` (port 0: any free port)")
	durations := jobDurationsFlag{def: emulator.DefaultJobDuration, perOp: map[string]time.Duration{}}
	fs.Var(&durations, "job-duration", "how long jobs run: `DURATION` for all, or OPERATION=DURATION for one (repeatable)")
	var faults emulator.Faults
	fs.Var((*rateFlag)(&faults.FailRate), "fail-rate", "`RATE` (0 to 1) of jobs that end FAILED")
	fs.Var((*rateFlag)(&faults.StuckRate), "stuck-rate", "`RATE` (0 to 1) of jobs that never end")
	fs.Func("fail-operation", "jobs of `OPERATION` always end FAILED (repeatable)", func(s string) error {
		op, err := amplify.LookupOperation(s)
		if err != nil || !op.StartsJob {
			return fmt.Errorf("%q is not an operation that starts a job", s)
		}
		faults.FailOperations = append(faults.FailOperations, op.Name)
		return nil
	})
	fs.Var((*rateFlag)(&faults.ThrottleRate), "throttle-rate", "`RATE` (0 to 1) of requests answered 429 TooManyRequestsException")
	fs.Var((*rateFlag)(&faults.ErrorRate), "error-rate", "`RATE` (0 to 1) of requests answered 504 GatewayTimeoutException")
	fs.Var((*durationFlag)(&faults.NotFoundWindow), "not-found-window", "GetBackendJob answers NotFound for `DURATION` after a job starts")
	fs.Var((*durationFlag)(&faults.Latency), "latency", "delay every answer by `DURATION`")
	fs.Var((*pendingCodeFlag)(&faults.PendingErrorCode), "pending-error-code",
		"error `CODE` refusing a second job on a busy environment: BadRequestException or ValidationException")
	seed := fs.Uint64("seed", 0, "`SEED` of every random choice, to replay a run (default: random, logged at start)")
	statePath := fs.String("state", "", "preload apps and environments from this JSON `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: the emulator takes flags only", fs.Arg(0))
	}
	if faults.FailRate+faults.StuckRate > 1 {
		return usagef("--fail-rate plus --stuck-rate must not exceed 1")
	}
	if !flagSet(fs, "seed") {
		*seed = mrand.Uint64()
	}
	cfg := emulator.Config{
		Seed:         *seed,
		JobDurations: emulator.FixedDurations(durations.def, durations.perOp),
		Faults:       faults,
		Logger:       slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if *statePath != "" {
		state, err := emulator.LoadState(*statePath)
		if err != nil {
			return usagef("--state: %v", err)
		}
		cfg.State = state
	}
	handler, err := emulator.New(cfg)
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on --addr %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cfg.Logger.Info("emulator started", "seed", *seed, "jobDuration", durations.def, "faults", faultsText(faults))
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop emulator: %w", err)
	}
	cfg.Logger.Info("emulator stopped")
	return nil
}

func faultsText(f emulator.Faults) string {
	b, _ := f.MarshalJSON() // numbers and strings: cannot fail
	return string(b)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// rateFlag is a share from 0 to 1.
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *rateFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return errors.New("want a number from 0 to 1")
	}
	*r = rateFlag(v)
	return nil
}

// durationFlag is a duration that is not negative.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return errors.New("want a duration that is not negative, like 500ms or 2s")
	}
	*d = durationFlag(v)
	return nil
}

// pendingCodeFlag is one of the error codes the service refuses a second
// job with.
type pendingCodeFlag string

func (p *pendingCodeFlag) String() string {
	if *p == "" {
		return emulator.PendingBadRequest
	}
	return string(*p)
}

func (p *pendingCodeFlag) Set(s string) error {
	if s != emulator.PendingBadRequest && s != emulator.PendingValidation {
		return fmt.Errorf("want %s or %s", emulator.PendingBadRequest, emulator.PendingValidation)
	}
	*p = pendingCodeFlag(s)
	return nil
}

// jobDurationsFlag collects --job-duration: "3s" sets the default,
// "CloneBackend=10s" (or clone_backend=, clone-backend=) one operation's.
type jobDurationsFlag struct {
	def   time.Duration
	perOp map[string]time.Duration
}

func (j *jobDurationsFlag) String() string {
	if j == nil {
		return ""
	}
	parts := []string{j.def.String()}
	for _, op := range slices.Sorted(maps.Keys(j.perOp)) {
		parts = append(parts, op+"="+j.perOp[op].String())
	}
	return strings.Join(parts, ",")
}

func (j *jobDurationsFlag) Set(s string) error {
	name, value, perOp := strings.Cut(s, "=")
	if !perOp {
		value = s
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < 0 {
		return errors.New("want DURATION or OPERATION=DURATION, with a duration that is not negative, like 3s or CloneBackend=10s")
	}
	if !perOp {
		j.def = d
		return nil
	}
	op, err := amplify.LookupOperation(name)
	if err != nil {
		return err
	}
	if !op.StartsJob {
		return fmt.Errorf("%s starts no job", op.Name)
	}
	j.perOp[op.Name] = d
	return nil
}
