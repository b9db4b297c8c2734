package emulator

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// Config configures an Emulator. Zero values mean the defaults.
type Config struct {
	// Addr is where Start listens; default 127.0.0.1:0 (any free port).
	Addr string
	// Clock derives job statuses and times; default the real clock.
	Clock Clock
	// Seed seeds every random choice (job ids, outcomes, durations,
	// faults): the same seed and the same requests give the same answers.
	Seed uint64
	// JobDurations gives each new job its duration; default
	// FixedDurations(DefaultJobDuration, nil).
	JobDurations DurationFunc
	// Faults are the initial faults; see Faults.
	Faults Faults
	// State preloads apps and environments.
	State *State
	// Logger, when set, gets one line per request: method, path,
	// operation, status and duration. Bodies are never logged: they can
	// hold secrets (client secrets, challenge codes).
	Logger *slog.Logger
}

// maxBody bounds a request body; the largest real input is a few KB.
const maxBody = 1 << 20

// Emulator is the Amplify Admin API as an http.Handler: the model's 31
// operations on their REST paths, with state, jobs and faults, plus the
// control endpoints under /_emulator/. It is safe for concurrent use.
type Emulator struct {
	clock  Clock
	jobs   *Jobs
	routes router
	log    *slog.Logger
	stats  *counters

	// mu guards the state below; request handling holds it for one
	// operation at a time, so operations are atomic.
	mu   sync.Mutex
	apps map[string]*app
	rand *rand.Rand
	// lossRand draws lost answers and dropped connections: a stream of
	// its own, so that a seed replays the throttling and gateway timeouts
	// it did before those faults existed.
	lossRand *rand.Rand
	faults   Faults
	// outageFrom and outageUntil are the outage window on the clock,
	// placed when the faults were set.
	outageFrom, outageUntil time.Time
}

// New returns an emulator for cfg.
func New(cfg Config) (*Emulator, error) {
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("emulator faults: %w", err)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	e := &Emulator{
		clock:  clock,
		routes: newRouter(),
		log:    cfg.Logger,
		stats:  newCounters(),
		apps:   map[string]*app{},
		// Separate streams for jobs and for the rest, so that fault draws
		// on reads do not change which jobs fail.
		rand:     rand.New(rand.NewPCG(cfg.Seed, 1)),
		lossRand: rand.New(rand.NewPCG(cfg.Seed, 3)),
	}
	e.jobs = NewJobs(JobsConfig{Clock: clock, Rand: rand.New(rand.NewPCG(cfg.Seed, 2)), Durations: cfg.JobDurations})
	e.setFaults(cfg.Faults, clock.Now())
	if cfg.State != nil {
		for _, sa := range cfg.State.Apps {
			e.apps[sa.AppId] = sa.load()
		}
	}
	return e, nil
}

// Jobs returns the emulator's job model.
func (e *Emulator) Jobs() *Jobs { return e.jobs }

// Faults returns the faults in force, the outage seen from now.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faultsAt(e.clock.Now())
}

// SetFaults replaces the faults in force; FailRate and StuckRate apply to
// jobs created from now on, an outage is placed from now.
func (e *Emulator) SetFaults(f Faults) error {
	_, err := e.updateFaults(func(cur *Faults) error {
		*cur = f
		return nil
	})
	return err
}

// updateFaults applies change to the faults in force, seen from now, and
// sets the result if it is valid. It is one step under e.mu, so that
// concurrent changes do not undo each other and an outage that change
// leaves alone keeps its window.
func (e *Emulator) updateFaults(change func(*Faults) error) (Faults, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	f := e.faultsAt(now)
	if err := change(&f); err != nil {
		return Faults{}, err
	}
	if err := f.Validate(); err != nil {
		return Faults{}, err
	}
	e.setFaults(f, now)
	return f, nil
}

// setFaults puts valid faults in force at now; e.mu held (or e not yet
// shared).
func (e *Emulator) setFaults(f Faults, now time.Time) {
	e.faults = f
	e.outageFrom = now.Add(f.OutageAfter)
	e.outageUntil = e.outageFrom.Add(f.OutageFor)
	e.jobs.SetRates(f.FailRate, f.StuckRate)
	e.jobs.SetFailOperations(f.FailOperations)
}

// faultsAt returns the faults in force with the outage as seen at now;
// e.mu held.
func (e *Emulator) faultsAt(now time.Time) Faults {
	f := e.faults
	f.OutageAfter, f.OutageFor = 0, 0
	if now.Before(e.outageUntil) {
		from := e.outageFrom
		if from.Before(now) {
			from = now
		}
		f.OutageAfter, f.OutageFor = from.Sub(now), e.outageUntil.Sub(from)
	}
	return f
}

// Stats returns the request counters and the jobs' statuses now.
func (e *Emulator) Stats() Stats {
	s := e.stats.snapshot()
	s.Jobs = e.jobs.Stats()
	return s
}

// ServeHTTP answers one request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	// Headers set through the map keep the service's spelling.
	rw.Header()["x-amzn-RequestId"] = []string{newRequestID()}
	opName := "-"
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		e.serveControl(rw, r)
	} else {
		op, outcome := e.serveAPI(rw, r)
		if op != nil {
			opName = op.Name
		}
		e.stats.count(opName, outcome)
	}
	if e.log != nil {
		status := any(rw.status)
		if rw.dropped != nil {
			status = "dropped"
		}
		e.log.Info("request", "method", r.Method, "path", r.URL.EscapedPath(), "operation", opName,
			"status", status, "duration", time.Since(start).Round(time.Microsecond))
	}
	if rw.dropped != nil {
		_ = rw.dropped.Close()
	}
}

// serveAPI answers an Admin API request: outage, route, then call. It
// returns the operation (nil when no route matched) and the outcome to
// count.
func (e *Emulator) serveAPI(w *statusWriter, r *http.Request) (*amplify.Operation, string) {
	op, labels, routed := e.routes.match(r.Method, r.URL.EscapedPath())
	faults := e.drawFaults()
	if faults.outage {
		return op, unreachable(w, faults.drop)
	}
	var out any
	var err *apiError
	if routed {
		out, err = e.call(w, r, op, labels, faults)
	} else {
		err = unknownRoute(r.Method, r.URL.EscapedPath())
	}
	if err != nil {
		writeError(w, err)
		return op, err.outcome()
	}
	writeJSON(w, http.StatusOK, out)
	return op, strconv.Itoa(http.StatusOK)
}

// call runs op in the order the service's front door does: latency,
// signature, throttling and gateway faults, then the input, then the
// operation itself under e.mu, then the loss of its answer.
func (e *Emulator) call(w http.ResponseWriter, r *http.Request, op *amplify.Operation, labels map[string]string, faults requestFaults) (any, *apiError) {
	pause(r.Context(), faults.latency)
	if err := checkSignature(r); err != nil {
		return nil, err
	}
	if faults.throttle {
		return nil, errThrottled
	}
	if faults.timeout {
		return nil, errGatewayTimeout
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, badRequest("read request body: %v", err)
	}
	in, apiErr := decodeInput(op, body, labels)
	if apiErr != nil {
		return nil, apiErr
	}
	out, apiErr := e.run(op, in)
	if apiErr != nil || !faults.lost || !op.StartsJob {
		return out, apiErr
	}
	// The job started; its answer is lost on the way back.
	e.stats.lostAnswer(op.Name, out)
	pause(r.Context(), faults.lostDelay)
	return nil, errLostAnswer
}

func (e *Emulator) run(op *amplify.Operation, in any) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return handlers[op.Name](e, in)
}

// requestFaults is what the faults decided for one Admin API request.
type requestFaults struct {
	latency, lostDelay                    time.Duration
	outage, drop, throttle, timeout, lost bool
}

// drawFaults decides what the faults do to one request. Every request
// draws the same numbers whatever the rates, so the seeded sequence does
// not depend on them.
func (e *Emulator) drawFaults() requestFaults {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	t, g := e.rand.Float64(), e.rand.Float64()
	l, d := e.lossRand.Float64(), e.lossRand.Float64()
	f := e.faults
	outage := !now.Before(e.outageFrom) && now.Before(e.outageUntil)
	return requestFaults{latency: f.Latency, lostDelay: f.lostAnswerDelay(),
		outage: outage, drop: outage && d < f.OutageDropRate,
		throttle: t < f.ThrottleRate, timeout: g < f.ErrorRate, lost: l < f.LostAnswerRate}
}

// unreachable answers a request during an outage: 503, or no answer at
// all when drop. It returns the outcome.
func unreachable(w *statusWriter, drop bool) string {
	if drop && w.drop() {
		return OutcomeDropped
	}
	writeError(w, errServiceUnavailable)
	return errServiceUnavailable.outcome()
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func writeError(w http.ResponseWriter, err *apiError) {
	w.Header()["X-Amzn-ErrorType"] = []string{err.code}
	writeJSON(w, err.status, err.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Outputs are model shapes, which always marshal.
		status, b = http.StatusInternalServerError, []byte(`{"message":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newRequestID returns a random UUID, as the service's request ids are.
// It does not draw from the seeded source: request ids would otherwise
// shift every later job id.
func newRequestID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// statusWriter remembers the status answered, or that the connection was
// dropped, for the log and counters.
type statusWriter struct {
	http.ResponseWriter
	status int
	// dropped is the connection taken over to be dropped, closed once
	// the request is counted: the client must not see the reset before
	// the stats do.
	dropped net.Conn
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// drop takes the connection over to reset it without an answer, as a load balancer that
// lost its targets may: the client sees a transport error. It reports
// false where the connection cannot be taken over (HTTP/2, a recorder).
func (w *statusWriter) drop() bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close with a reset, not an orderly FIN
	}
	w.dropped = conn
	return true
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}
