package emulator

import (
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
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
	mu     sync.Mutex
	apps   map[string]*app
	rand   *rand.Rand
	faults Faults
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
		rand:   rand.New(rand.NewPCG(cfg.Seed, 1)),
		faults: cfg.Faults,
	}
	e.jobs = NewJobs(JobsConfig{
		Clock:          clock,
		Rand:           rand.New(rand.NewPCG(cfg.Seed, 2)),
		Durations:      cfg.JobDurations,
		FailRate:       cfg.Faults.FailRate,
		StuckRate:      cfg.Faults.StuckRate,
		FailOperations: cfg.Faults.FailOperations,
	})
	if cfg.State != nil {
		for _, sa := range cfg.State.Apps {
			e.apps[sa.AppId] = sa.load()
		}
	}
	return e, nil
}

// Jobs returns the emulator's job model.
func (e *Emulator) Jobs() *Jobs { return e.jobs }

// Faults returns the faults in force.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults
}

// SetFaults replaces the faults in force; FailRate and StuckRate apply to
// jobs created from now on.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
	e.jobs.SetRates(f.FailRate, f.StuckRate)
	e.jobs.SetFailOperations(f.FailOperations)
	return nil
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
		op, err := e.serveAPI(rw, r)
		if op != nil {
			opName = op.Name
		}
		e.stats.count(opName, rw.status, err)
	}
	if e.log != nil {
		e.log.Info("request", "method", r.Method, "path", r.URL.EscapedPath(), "operation", opName,
			"status", rw.status, "duration", time.Since(start).Round(time.Microsecond))
	}
}

// serveAPI answers an Admin API request: route, sign check, faults,
// input, operation. It returns the operation (nil when no route matched)
// and the error answered, if any.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) (*amplify.Operation, *apiError) {
	op, labels, ok := e.routes.match(r.Method, r.URL.EscapedPath())
	if !ok {
		err := unknownRoute(r.Method, r.URL.EscapedPath())
		writeError(w, err)
		return nil, err
	}
	out, err := e.call(w, r, op, labels)
	if err != nil {
		writeError(w, err)
		return op, err
	}
	writeJSON(w, http.StatusOK, out)
	return op, nil
}

// call runs op in the order the service's front door does: latency,
// signature, throttling and gateway faults, then the input, then the
// operation itself under e.mu.
func (e *Emulator) call(w http.ResponseWriter, r *http.Request, op *amplify.Operation, labels map[string]string) (any, *apiError) {
	faults, throttle, fail := e.drawFaults()
	if faults.Latency > 0 {
		t := time.NewTimer(faults.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if err := checkSignature(r); err != nil {
		return nil, err
	}
	if throttle {
		return nil, errThrottled
	}
	if fail {
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
	e.mu.Lock()
	defer e.mu.Unlock()
	return handlers[op.Name](e, in)
}

// drawFaults decides whether this request is throttled or fails. Both
// draws happen on every request, so the seeded sequence does not depend
// on the rates.
func (e *Emulator) drawFaults() (f Faults, throttle, fail bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, g := e.rand.Float64(), e.rand.Float64()
	return e.faults, t < e.faults.ThrottleRate, g < e.faults.ErrorRate
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

// statusWriter remembers the status answered, for the log and counters.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}
