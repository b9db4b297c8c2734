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
SIGINT or SIGTERM.

Faults: --throttle-rate answers 429; --error-rate answers 504 before the
operation runs; --lost-answer-rate answers 504 after a job-starting call
started its job, so the caller never gets the job id; --outage-after and
--outage-for make the service unreachable for a while: every call is
answered 503 ServiceUnavailableException or, with --outage-drop-rate,
its connection is reset, while jobs run on.

GET /_emulator/stats counts the calls by outcome ("504 lost answer",
"503 ServiceUnavailableException", "connection dropped", ...) and lists
the jobs whose answer was lost; POST /_emulator/faults changes the
faults while it runs, e.g.
  curl -d '{"throttleRate":0.2,"latency":"150ms"}' http://HOST:PORT/_emulator/faults
  curl -d '{"outageFor":"60s"}' ...   an outage from now, for 60s ("0s" ends it)
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
	o := emulatorFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := o.config(fs, stderr)
	if err != nil {
		return err
	}
	handler, err := emulator.New(cfg)
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on --addr %s: %w", o.addr, err)
	}
	cfg.Logger.Info("emulator started", "seed", cfg.Seed, "jobDuration", o.durations.def, "faults", faultsText(handler.Faults()))
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	if err := serveEmulator(ctx, ln, handler); err != nil {
		return err
	}
	cfg.Logger.Info("emulator stopped")
	return nil
}

// emulatorOptions are the emulator command's flags.
type emulatorOptions struct {
	addr      string
	durations jobDurationsFlag
	faults    emulator.Faults
	seed      uint64
	statePath string
}

func emulatorFlags(fs *flag.FlagSet) *emulatorOptions {
	o := &emulatorOptions{durations: jobDurationsFlag{def: emulator.DefaultJobDuration, perOp: map[string]time.Duration{}}}
	o.faults.LostAnswerDelay = emulator.DefaultLostAnswerDelay
	fs.StringVar(&o.addr, "addr", "127.0.0.1:4510", "listen on `HOST:PORT` (port 0: any free port)")
	fs.Var(&o.durations, "job-duration", "how long jobs run: `DURATION` for all, or OPERATION=DURATION for one (repeatable)")
	f := &o.faults
	fs.Var((*rateFlag)(&f.FailRate), "fail-rate", "`RATE` (0 to 1) of jobs that end FAILED")
	fs.Var((*rateFlag)(&f.StuckRate), "stuck-rate", "`RATE` (0 to 1) of jobs that never end")
	fs.Func("fail-operation", "jobs of `OPERATION` always end FAILED (repeatable)", func(s string) error {
		op, err := amplify.LookupOperation(s)
		if err != nil || !op.StartsJob {
			return fmt.Errorf("%q is not an operation that starts a job", s)
		}
		f.FailOperations = append(f.FailOperations, op.Name)
		return nil
	})
	fs.Var((*rateFlag)(&f.ThrottleRate), "throttle-rate", "`RATE` (0 to 1) of requests answered 429 TooManyRequestsException")
	fs.Var((*rateFlag)(&f.ErrorRate), "error-rate", "`RATE` (0 to 1) of requests answered 504 GatewayTimeoutException before the operation runs")
	fs.Var((*rateFlag)(&f.LostAnswerRate), "lost-answer-rate",
		"`RATE` (0 to 1) of accepted job-starting calls whose job starts but whose answer is 504 GatewayTimeoutException")
	fs.Var((*durationFlag)(&f.LostAnswerDelay), "lost-answer-delay", "a lost answer comes after `DURATION`")
	fs.Var((*durationFlag)(&f.OutageAfter), "outage-after", "an outage starts `DURATION` after the start (with --outage-for)")
	fs.Var((*durationFlag)(&f.OutageFor), "outage-for",
		"an outage lasts `DURATION`: every Admin API call is answered 503 ServiceUnavailableException or dropped; jobs run on")
	fs.Var((*rateFlag)(&f.OutageDropRate), "outage-drop-rate", "`RATE` (0 to 1) of calls during an outage whose connection is reset without an answer")
	fs.Var((*durationFlag)(&f.NotFoundWindow), "not-found-window", "GetBackendJob answers NotFound for `DURATION` after a job starts")
	fs.Var((*durationFlag)(&f.Latency), "latency", "delay every answer by `DURATION`")
	fs.Var((*pendingCodeFlag)(&f.PendingErrorCode), "pending-error-code",
		"error `CODE` refusing a second job on a busy environment: BadRequestException or ValidationException")
	fs.Uint64Var(&o.seed, "seed", 0, "`SEED` of every random choice, to replay a run (default: random, logged at start)")
	fs.StringVar(&o.statePath, "state", "", "preload apps and environments from this JSON `FILE`")
	return o
}

// config checks the flags that depend on each other and builds the
// emulator's configuration, logging to stderr.
func (o *emulatorOptions) config(fs *flag.FlagSet, stderr io.Writer) (emulator.Config, error) {
	if o.faults.FailRate+o.faults.StuckRate > 1 {
		return emulator.Config{}, usagef("--fail-rate plus --stuck-rate must not exceed 1")
	}
	if o.faults.OutageAfter > 0 && o.faults.OutageFor == 0 {
		return emulator.Config{}, usagef("--outage-after needs --outage-for, the outage's length")
	}
	if !flagSet(fs, "seed") {
		o.seed = mrand.Uint64()
	}
	cfg := emulator.Config{
		Seed:         o.seed,
		JobDurations: emulator.FixedDurations(o.durations.def, o.durations.perOp),
		Faults:       o.faults,
		Logger:       slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if o.statePath != "" {
		state, err := emulator.LoadState(o.statePath)
		if err != nil {
			return emulator.Config{}, usagef("--state: %v", err)
		}
		cfg.State = state
	}
	return cfg, nil
}

// serveEmulator answers on ln until ctx ends, then lets the requests in flight
// finish.
func serveEmulator(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
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
