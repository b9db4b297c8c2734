package submit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// StatusWaiting is the status of a request queued behind a pending job on
// its environment.
const StatusWaiting = "WAITING"

// CallFunc calls an Admin API operation with a typed input (as from
// amplify.Operation.DecodeInput) and returns its typed output.
type CallFunc func(ctx context.Context, op *amplify.Operation, input any) (any, error)

// Store is the part of the state table submit uses: request records and
// waiting lines. *state.Store implements it.
type Store interface {
	Request(ctx context.Context, requestID string) (*state.Request, error)
	EditRequest(ctx context.Context, r *state.Request, change func(*state.Request) (bool, error)) error
	DropRequest(ctx context.Context, r *state.Request) error
	Line(ctx context.Context, appID, env string) (*state.Line, error)
	EditLine(ctx context.Context, l *state.Line, change func(*state.Line) (bool, error)) error
}

// JobTracker records the jobs submit starts, so that the discovery sweep
// leaves them alone; *state.Store implements it.
type JobTracker interface {
	TrackJob(ctx context.Context, m contract.TrackingMessage, source string) (started bool, err error)
}

// Clients are the services a Submitter talks to.
type Clients struct {
	AdminAPI CallFunc
	SQS      queue.API
	State    Store
	// Tracked, when set, records each job submit starts tracking.
	Tracked JobTracker
}

// Result is the answer to a job request (the direct invocation's response).
type Result struct {
	JobID                  string `json:"jobId"`
	AppID                  string `json:"appId"`
	BackendEnvironmentName string `json:"backendEnvironmentName"`
	Operation              string `json:"operation"`
	// Status is the job's status as the service answered (RUNNING), or
	// WAITING while the request waits for its environment; a repeated
	// request whose wait ended without a job answers FAILED or TIMED_OUT.
	Status    string `json:"status"`
	RequestID string `json:"requestId"`
}

// Submitter submits job requests and moves the waiting lines along.
type Submitter struct {
	cfg     Config
	call    CallFunc
	sqs     *queue.Sender
	store   Store
	tracked JobTracker
	now     func() time.Time
	log     *slog.Logger
	allowed map[string]bool
}

// New returns a Submitter. now is the clock (time.Now in production).
func New(cfg Config, c Clients, now func() time.Time, log *slog.Logger) (*Submitter, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if c.AdminAPI == nil || c.SQS == nil || c.State == nil {
		return nil, errors.New("submit: the Admin API, SQS and state table clients are required")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxLine == 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	s := &Submitter{cfg: cfg, call: c.AdminAPI, sqs: queue.NewSender(c.SQS), store: c.State, tracked: c.Tracked, now: now, log: log}
	if len(cfg.AllowedAppIDs) > 0 {
		s.allowed = make(map[string]bool, len(cfg.AllowedAppIDs))
		for _, id := range cfg.AllowedAppIDs {
			s.allowed[id] = true
		}
	}
	return s, nil
}

// Tuning of a request's life.
const (
	// lockLease is the longest an invocation holds a request while it
	// calls the Admin API (the longest a Lambda function runs); the lease
	// ends earlier with the invocation's deadline.
	lockLease = 15 * time.Minute
	// recordTTL is how long a request record outlives its last change:
	// past EventBridge's and Lambda's retry windows.
	recordTTL = 24 * time.Hour
	// wakeGrace is how long past its due time a scheduled wake-up is still
	// trusted to come; after it, another one is sent. Poll's wake-ups at
	// the end of a job move the line whatever the chain does.
	wakeGrace = 2 * time.Minute
)

// Submit runs one job request, top down: it validates the request, takes
// its record, then starts the job (and sends its tracking message) or,
// when the environment is busy or others wait for it, puts the request in
// the environment's line. A request id seen before is answered from its
// record. Errors are *InvalidRequestError, *RefusedError,
// *InProgressError, *CallError, or a failure of SQS or DynamoDB.
func (s *Submitter) Submit(ctx context.Context, jr contract.JobRequest) (Result, error) {
	if jr.RequestID == "" {
		jr.RequestID = newID()
	}
	r, err := s.validate(jr)
	if err != nil {
		s.log.WarnContext(ctx, "job request refused", "jobRequestId", jr.RequestID, "operation", jr.Operation, "error", err.Error())
		return Result{}, err
	}
	ctx = logging.With(ctx, append(logging.Job(r.appID, r.env, ""),
		slog.String("jobRequestId", r.id), slog.String("operation", r.op.Name))...)
	s.log.InfoContext(ctx, "job request received")
	res, err := s.process(ctx, r)
	if err != nil {
		level := slog.LevelError
		var refused *RefusedError
		var callErr *CallError
		if errors.As(err, &refused) || errors.As(err, &callErr) && !callErr.Retryable() {
			level = slog.LevelWarn // the request's own fault, not jobwatch's
		}
		s.log.Log(ctx, level, "job request failed", "error", err.Error())
		return Result{}, err
	}
	return res, nil
}

// process takes the request's record and goes on from where its record
// says the request is.
func (s *Submitter) process(ctx context.Context, r *request) (Result, error) {
	rec, repeated, err := s.record(ctx, r)
	switch {
	case err != nil:
		return Result{}, err
	case repeated:
		s.log.InfoContext(ctx, "repeated job request answered from its record", "jobId", rec.JobID, "status", rec.Status)
		return resultOf(rec), nil
	case rec.State == state.Started: // started before, but the tracking message was not sent
		if err := s.track(ctx, rec); err != nil {
			return Result{}, err
		}
		return resultOf(rec), nil
	}
	line, err := s.store.Line(ctx, r.appID, r.env)
	if err != nil {
		s.release(ctx, rec)
		return Result{}, err
	}
	if len(line.Entries) > 0 {
		return s.join(ctx, r, rec, line, "others wait for the environment")
	}
	out, err := s.start(ctx, rec, r.op, r.input)
	switch {
	case err == nil:
		if err := s.started(ctx, rec, out); err != nil {
			return Result{}, err
		}
		return resultOf(rec), nil
	case isBusy(err):
		return s.join(ctx, r, rec, line, "a job is pending on the environment")
	}
	s.release(ctx, rec)
	return Result{}, err
}

// record takes the request's record for this invocation: it creates it
// (received), or takes over one whose holder is gone. repeated says the
// request reached a state a repeated request is answered from (waiting,
// or done); then rec is that record.
func (s *Submitter) record(ctx context.Context, r *request) (rec *state.Request, repeated bool, err error) {
	now, token, until := s.now(), newID(), s.leaseUntil(ctx)
	fresh := state.NewRequest(r.id)
	fresh.Fingerprint, fresh.Operation, fresh.AppID, fresh.BackendEnvironmentName = r.fingerprint, r.op.Name, r.appID, r.env
	fresh.ArrivedAt, fresh.ExpiresAt = now.UTC(), s.expiry(now)
	fresh.Lease(token, until)
	rec = state.NewRequest(r.id)
	err = s.store.EditRequest(ctx, rec, func(cur *state.Request) (bool, error) {
		repeated = false
		switch {
		case !cur.Exists():
			*cur = *fresh
			return true, nil
		case cur.LockToken == token: // our write landed although it was reported lost
			return false, nil
		case cur.Fingerprint != r.fingerprint:
			return false, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"requestId %q was already used for another request (%s on app %s environment %s); use a new requestId",
				r.id, cur.Operation, cur.AppID, cur.BackendEnvironmentName)}
		case cur.Done() || cur.State == state.Waiting:
			repeated = true
			return false, nil
		case cur.Leased(s.now()):
			return false, &InProgressError{RequestID: r.id}
		}
		cur.Lease(token, until) // received, starting or started but untracked, and its holder is gone: take over
		return true, nil
	})
	if errors.Is(err, state.ErrConflict) {
		return nil, false, &InProgressError{RequestID: r.id}
	}
	return rec, repeated, err
}

// start calls the operation for a request this invocation holds, after
// recording that it is starting (with the time), so that an answer lost
// with a crash can be looked for. A failed call is a *CallError.
func (s *Submitter) start(ctx context.Context, rec *state.Request, op *amplify.Operation, input any) (any, error) {
	now := s.now().UTC()
	if err := s.update(ctx, rec, func(x *state.Request) error {
		x.StartingAt = &now
		return x.To(state.Starting)
	}); err != nil {
		return nil, fmt.Errorf("record that %s is starting: %w", rec.ID(), err)
	}
	out, err := s.call(ctx, op, input)
	if err != nil {
		return nil, &CallError{RequestID: rec.ID(), Operation: op.Name, AppID: rec.AppID,
			BackendEnvironmentName: rec.BackendEnvironmentName, Err: err}
	}
	return out, nil
}

// started records the job an operation started and sends its tracking
// message.
func (s *Submitter) started(ctx context.Context, rec *state.Request, out any) error {
	jobID, _ := member(out, "JobId")
	status, _ := member(out, "Status")
	now := s.now().UTC()
	if jobID == "" {
		err := fmt.Errorf("%s answered without a JobId: there is no job to watch", rec.Operation)
		_ = s.update(ctx, rec, func(x *state.Request) error {
			x.Status, x.Error = contract.StatusFailed, err.Error()
			x.Unlease()
			return x.To(state.Failed)
		})
		return err
	}
	if err := s.update(ctx, rec, func(x *state.Request) error {
		x.JobID, x.Status, x.SubmittedAt, x.Tracked = jobID, status, &now, false
		return x.To(state.Started)
	}); err != nil {
		return fmt.Errorf("record job %s: %w", jobID, err)
	}
	return s.track(ctx, rec)
}

// join puts a request at the back of its environment's line and makes sure
// a wake-up will look at the line.
func (s *Submitter) join(ctx context.Context, r *request, rec *state.Request, line *state.Line, reason string) (Result, error) {
	entry := state.LineEntry{RequestID: r.id, Request: state.WaitingRequest{Operation: r.op.Name, Input: r.inputJSON},
		ArrivedAt: rec.ArrivedAt, Deadline: rec.ArrivedAt.Add(s.cfg.WaitDeadline)}
	err := s.store.EditLine(ctx, line, func(l *state.Line) (bool, error) {
		switch {
		case l.Position(r.id) >= 0:
			return false, nil // in line already: an earlier attempt joined
		case len(l.Entries) >= s.cfg.MaxLine:
			return false, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"%d requests already wait for app %s environment %s, the most a line holds; try again later",
				len(l.Entries), r.appID, r.env)}
		}
		l.Entries = append(l.Entries, entry)
		if !l.Fits() {
			return false, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"the requests waiting for app %s environment %s already fill the line's %d KB; try again later",
				r.appID, r.env, state.MaxLineBytes/1024)}
		}
		return true, nil
	})
	if err != nil {
		s.release(ctx, rec)
		if errors.Is(err, state.ErrConflict) {
			err = fmt.Errorf("join the line of app %s environment %s: %w", r.appID, r.env, err)
		}
		return Result{}, err
	}
	if err := s.scheduleLook(ctx, line, ""); err != nil {
		// The request is in the line but nothing may come to look at it:
		// fail, so that the retry (which finds it in the line) schedules.
		s.unlock(ctx, rec)
		return Result{}, err
	}
	if err := s.backInLine(ctx, rec); err != nil {
		return Result{}, err
	}
	s.log.InfoContext(ctx, "environment busy: the request waits in line",
		"reason", reason, "position", line.Position(r.id)+1, "status", rec.Status)
	return resultOf(rec), nil
}

// track sends the tracking message of a started request and notes it.
func (s *Submitter) track(ctx context.Context, rec *state.Request) error {
	ctx = logging.With(ctx, slog.String("jobId", rec.JobID))
	submittedAt := rec.ArrivedAt // a started record has SubmittedAt; this guards an edited one
	if rec.SubmittedAt != nil {
		submittedAt = *rec.SubmittedAt
	}
	msg := contract.TrackingMessage{
		Version:                contract.TrackingVersion,
		AppID:                  rec.AppID,
		BackendEnvironmentName: rec.BackendEnvironmentName,
		JobID:                  rec.JobID,
		Operation:              rec.Operation,
		RequestID:              rec.ID(),
		SubmittedAt:            submittedAt,
		Deadline:               submittedAt.Add(s.cfg.Deadline),
		LastStatus:             rec.Status,
	}
	if err := s.send(ctx, s.cfg.JobsQueueURL, msg, s.cfg.InitialPollDelay); err != nil {
		s.unlock(ctx, rec)
		return fmt.Errorf("send the tracking message of job %s: %w", rec.JobID, err)
	}
	if err := s.update(ctx, rec, func(x *state.Request) error { x.Tracked = true; x.Unlease(); return nil }); err != nil {
		return fmt.Errorf("record that job %s is tracked: %w", rec.JobID, err)
	}
	if s.tracked != nil {
		// After the tracking message: a job recorded but never sent would
		// be skipped by the sweep and lost; one sent but not recorded is at
		// worst tracked twice, and its notifications de-duplicated.
		if _, err := s.tracked.TrackJob(ctx, msg, "submit"); err != nil {
			s.log.WarnContext(ctx, "could not record the tracked job", "error", err.Error())
		}
	}
	s.log.InfoContext(ctx, "job submitted", "status", rec.Status)
	return nil
}

// update applies change to rec and writes it, applying change again to
// the record as it is when another writer came first: for changes that
// must land (a job was started, a message was sent).
func (s *Submitter) update(ctx context.Context, rec *state.Request, change func(*state.Request) error) error {
	return s.store.EditRequest(ctx, rec, func(x *state.Request) (bool, error) {
		if err := change(x); err != nil {
			return false, err
		}
		x.ExpiresAt = s.expiry(s.now())
		return true, nil
	})
}

// backInLine records that a request this invocation holds waits in its
// line (a started call found the environment busy, or the request joined
// it), and gives up the lease.
func (s *Submitter) backInLine(ctx context.Context, rec *state.Request) error {
	token := rec.LockToken
	return s.update(ctx, rec, func(x *state.Request) error {
		if x.LockToken == token {
			x.Unlease()
		}
		if x.State == state.Received || x.State == state.Starting {
			x.Status = StatusWaiting
			return x.To(state.Waiting)
		}
		return nil
	})
}

// unlock gives up this invocation's lease on rec after a failure.
func (s *Submitter) unlock(ctx context.Context, rec *state.Request) {
	token := rec.LockToken
	err := s.update(ctx, rec, func(x *state.Request) error {
		if x.LockToken == token {
			x.Unlease()
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not release the request's lease", "error", err.Error())
	}
}

// release forgets a request that came to nothing before it had a job or
// a place in line (refused, or its call failed), so that a retry starts
// afresh.
func (s *Submitter) release(ctx context.Context, rec *state.Request) {
	if rec.State != state.Received && rec.State != state.Starting {
		return
	}
	if err := s.store.DropRequest(ctx, rec); err != nil {
		// The lease runs out on its own; a retry waits for it.
		s.log.WarnContext(ctx, "could not release the request record", "error", err.Error())
	}
}

func (s *Submitter) expiry(now time.Time) int64 {
	return now.Add(s.cfg.WaitDeadline + recordTTL).Unix()
}

// leaseUntil is when a lease taken now ends: with the invocation, at the
// latest after lockLease.
func (s *Submitter) leaseUntil(ctx context.Context) time.Time {
	d := lockLease
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) + 5*time.Second; left < d {
			d = left
		}
	}
	return s.now().Add(d)
}

func resultOf(rec *state.Request) Result {
	return Result{JobID: rec.JobID, AppID: rec.AppID, BackendEnvironmentName: rec.BackendEnvironmentName,
		Operation: rec.Operation, Status: rec.Status, RequestID: rec.ID()}
}

// send writes v as JSON to a queue.
func (s *Submitter) send(ctx context.Context, queueURL string, v any, delay time.Duration) error {
	_, err := s.sqs.SendJSON(ctx, queueURL, v, delay)
	return err
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
