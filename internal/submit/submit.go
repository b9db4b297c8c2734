package submit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"time"

	smithy "github.com/aws/smithy-go"
	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// StatusWaiting is the status of a request queued behind a pending job on
// its environment.
const StatusWaiting = "WAITING"

// sourceSubmit names submit as the tracker of the jobs it starts.
const sourceSubmit = "submit"

// CallFunc calls an Admin API operation with a typed input (as from
// amplify.Operation.DecodeInput) and returns its typed output.
type CallFunc func(ctx context.Context, op *amplify.Operation, input any) (any, error)

// Store is the part of the state table submit uses: request records,
// waiting lines and the claims on the jobs it starts. *state.Store
// implements it.
type Store interface {
	Request(ctx context.Context, requestID string) (*state.Request, error)
	EditRequest(ctx context.Context, r *state.Request, change func(*state.Request) (bool, error)) error
	DropRequest(ctx context.Context, r *state.Request) error
	Line(ctx context.Context, appID, env string) (*state.Line, error)
	EditLine(ctx context.Context, l *state.Line, change func(*state.Line) (bool, error)) error
	ClaimJob(ctx context.Context, m contract.TrackingMessage, source string, until time.Time) (*state.JobClaim, error)
	MarkJobSent(ctx context.Context, c *state.JobClaim) error
}

// Clients are the services a Submitter talks to.
type Clients struct {
	// AdminAPI starts jobs (ClientCall in production).
	AdminAPI CallFunc
	// Jobs lists an environment's jobs, to find the job of a call whose
	// answer was lost; the *amplify.Client behind AdminAPI.
	Jobs  amplify.ListBackendJobsAPIClient
	SQS   queue.API
	State Store
	// Metrics, when set, records the function's metrics; HandleLambda
	// writes them at the end of each invocation.
	Metrics *metrics.Recorder
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
	cfg      Config
	adminAPI CallFunc
	jobs     amplify.ListBackendJobsAPIClient
	sqs      *queue.Sender
	store    Store
	metrics  *metrics.Recorder
	now      func() time.Time
	log      *slog.Logger
	allowed  map[string]bool
}

// New returns a Submitter. now is the clock (time.Now in production).
func New(cfg Config, c Clients, now func() time.Time, log *slog.Logger) (*Submitter, error) {
	if cfg.MaxLine == 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.BackoffBase == 0 && cfg.BackoffLimit == 0 {
		cfg.BackoffBase, cfg.BackoffLimit = queue.DefaultBackoffBase, queue.DefaultBackoffLimit
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if c.AdminAPI == nil || c.Jobs == nil || c.SQS == nil || c.State == nil {
		return nil, errors.New("submit: the Admin API (AdminAPI and Jobs), SQS and state table clients are required")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Submitter{cfg: cfg, adminAPI: c.AdminAPI, jobs: c.Jobs, sqs: queue.NewSender(c.SQS), store: c.State,
		metrics: c.Metrics, now: now, log: log, allowed: make(map[string]bool, len(cfg.AllowedAppIDs))}
	for _, id := range cfg.AllowedAppIDs {
		s.allowed[id] = true
	}
	return s, nil
}

// Tuning of a request's life.
const (
	// lockLease is the longest an invocation holds a request while it
	// calls the Admin API (the longest a Lambda function runs); the lease
	// ends earlier with the invocation's deadline.
	lockLease = 15 * time.Minute
	// recordTTL is how long a request record outlives its last change
	// (after the wait deadline): longer than a dead-letter queue keeps a
	// message (14 days), so that a redriven request finds its record.
	recordTTL = 15 * 24 * time.Hour
)

// Submit runs one job request, top down: it validates the request, takes
// its record, then starts the job (and sends its tracking message) or,
// when the environment is busy, others wait for it or the Admin API is
// unavailable, puts the request in the environment's line. A request id
// seen before is answered from its record. Errors are
// *InvalidRequestError, *RefusedError, *InProgressError, *CallError (the
// service refused the request), or a failure of SQS or DynamoDB.
func (s *Submitter) Submit(ctx context.Context, jr contract.JobRequest) (Result, error) {
	if jr.RequestID == "" {
		jr.RequestID = newID()
	}
	r, err := s.validate(jr)
	if err != nil {
		s.log.WarnContext(ctx, "job request refused", "jobRequestId", jr.RequestID, "operation", jr.Operation, "error", err.Error())
		if r != nil { // well formed, but not for this deployment
			s.refuse(ctx, s.newRecord(r), refusal(err))
		}
		return Result{}, err
	}
	ctx = logging.With(ctx, append(logging.Job(r.appID, r.env, ""),
		slog.String("jobRequestId", r.id), slog.String("operation", r.op.Name))...)
	s.log.InfoContext(ctx, "job request received")
	res, err := s.process(ctx, r)
	if err != nil {
		level := slog.LevelError
		if permanent(err) {
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
		s.dropStart(ctx, &attempt{rec: rec})
		return resultOf(rec), nil
	}
	line, err := s.store.Line(ctx, r.appID, r.env)
	if err != nil {
		s.release(ctx, rec)
		return Result{}, err
	}
	if len(line.Entries) > 0 {
		return s.join(ctx, r, rec, line, errors.New("others wait for the environment"))
	}
	o, err := s.start(ctx, &attempt{rec: rec, op: r.op, input: r.input, line: line})
	switch {
	case err != nil:
		s.release(ctx, rec)
		return Result{}, err
	case o.step == started:
		return resultOf(rec), nil
	case o.step == refused:
		s.refuse(ctx, rec, refusal(o.cause))
		return Result{}, o.cause
	case o.step == putOff:
		s.putOff(ctx, reasonOf(o.cause))
		return s.join(ctx, r, rec, line, &putOffError{err: o.cause})
	}
	return s.join(ctx, r, rec, line, o.cause)
}

// record takes the request's record for this invocation: it creates it
// (received), or takes over one whose holder is gone. repeated says the
// request reached a state a repeated request is answered from (waiting,
// or done); then rec is that record.
func (s *Submitter) record(ctx context.Context, r *request) (rec *state.Request, repeated bool, err error) {
	token, until := newID(), s.leaseUntil(ctx)
	fresh := s.newRecord(r)
	fresh.Lease(token, until)
	rec = state.NewRequest(r.id)
	err = s.store.EditRequest(ctx, rec, func(cur *state.Request) (bool, error) {
		repeated = false
		switch {
		case !cur.Exists(), cur.State == state.Refused: // a refused request's retry starts afresh
			rev := cur.Rev
			*cur = *fresh
			cur.Rev = rev
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
		takeOver(cur, token, until) // received, starting or started but untracked, and its holder is gone
		return true, nil
	})
	if errors.Is(err, state.ErrConflict) {
		return nil, false, &InProgressError{RequestID: r.id}
	}
	return rec, repeated, err
}

// newRecord is the record of r as received now, not yet in the table.
func (s *Submitter) newRecord(r *request) *state.Request {
	now := s.now()
	rec := state.NewRequest(r.id)
	rec.Fingerprint, rec.Operation, rec.AppID, rec.BackendEnvironmentName = r.fingerprint, r.op.Name, r.appID, r.env
	rec.TargetEnvironmentName = r.target
	rec.ArrivedAt, rec.ExpiresAt = now.UTC(), s.expiry(now)
	return rec
}

// takeOver leases a record whose holder is gone to token. A holder gone
// while the request was starting may have called: whether the job
// started is not known.
func takeOver(x *state.Request, token string, until time.Time) {
	if x.State == state.Starting {
		x.Unanswered = true
	}
	x.Lease(token, until)
}

// lease takes a request's record for this invocation (rebuilt when it is
// missing and rebuilt is set). It returns nil when another invocation
// holds it, or when there is none to rebuild. A record with nothing left
// to do is returned without a lease.
func (s *Submitter) lease(ctx context.Context, rec, rebuilt *state.Request) (*state.Request, error) {
	token, until := newID(), s.leaseUntil(ctx)
	held := true
	err := s.store.EditRequest(ctx, rec, func(x *state.Request) (bool, error) {
		held = true
		switch {
		case !x.Exists() && rebuilt == nil:
			held = false
			return false, nil
		case !x.Exists():
			*x = *rebuilt
		case x.Done(), x.LockToken == token: // nothing left to do, or our write landed although it was reported lost
			return false, nil
		case x.Leased(s.now()):
			held = false
			return false, nil
		}
		takeOver(x, token, until)
		return true, nil
	})
	switch {
	case errors.Is(err, state.ErrConflict):
		return nil, nil
	case err != nil:
		return nil, err
	case !held:
		s.log.DebugContext(ctx, "another invocation holds the request", "heldRequestId", rec.ID())
		return nil, nil
	}
	return rec, nil
}

// trackingMessage is the tracking message of a started request's job.
func (s *Submitter) trackingMessage(rec *state.Request) contract.TrackingMessage {
	submittedAt := rec.ArrivedAt // a started record has SubmittedAt; this guards an edited one
	if rec.SubmittedAt != nil {
		submittedAt = *rec.SubmittedAt
	}
	return contract.TrackingMessage{
		Version:                contract.TrackingVersion,
		AppID:                  rec.AppID,
		BackendEnvironmentName: rec.BackendEnvironmentName,
		JobID:                  rec.JobID,
		Operation:              rec.Operation,
		RequestID:              rec.ID(),
		TargetEnvironmentName:  rec.TargetEnvironmentName,
		SubmittedAt:            submittedAt,
		Deadline:               submittedAt.Add(s.cfg.Deadline),
		LastStatus:             rec.Status,
	}
}

// track hands a started request's job to poll: it claims the job's record
// for the request, sends the tracking message unless an earlier attempt
// did, marks the claim sent and notes the request tracked. A job another
// tracker holds (a sweep from before the request knew it) is left to it:
// one tracking chain per job.
func (s *Submitter) track(ctx context.Context, rec *state.Request) error {
	ctx = logging.With(ctx, slog.String("jobId", rec.JobID))
	msg := s.trackingMessage(rec)
	claim, err := s.store.ClaimJob(ctx, msg, sourceSubmit, s.leaseUntil(ctx))
	if err != nil {
		s.unlock(ctx, rec)
		return fmt.Errorf("claim job %s: %w", rec.JobID, err)
	}
	switch {
	case claim == nil:
		s.log.WarnContext(ctx, "the job is tracked already by another tracker; it keeps it")
	case !claim.Sent:
		if err := s.send(ctx, s.cfg.JobsQueueURL, msg, s.cfg.InitialPollDelay); err != nil {
			s.unlock(ctx, rec)
			return fmt.Errorf("send the tracking message of job %s: %w", rec.JobID, err)
		}
		if err := s.store.MarkJobSent(ctx, claim); err != nil {
			// The message is out; at worst a later attempt sends it again,
			// and poll drops the copy.
			s.log.WarnContext(ctx, "could not mark the tracking message sent", "error", err.Error())
		}
	}
	if err := s.update(ctx, rec, func(x *state.Request) error { x.Tracked = true; x.Unlease(); return nil }); err != nil {
		return fmt.Errorf("record that job %s is tracked: %w", rec.JobID, err)
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
			if x.WaitingSince == nil {
				now := s.now().UTC()
				x.WaitingSince = &now
			}
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

// release gives up a request after a failure: a request that cannot have
// started a job yet (received, no call unanswered) is forgotten, so that a
// retry starts afresh; any other keeps its record for the retry, which
// goes on from it.
func (s *Submitter) release(ctx context.Context, rec *state.Request) {
	if !rec.Exists() || rec.State != state.Received || rec.Unanswered {
		s.unlock(ctx, rec)
		return
	}
	s.forget(ctx, rec)
}

// refuse records that the request was refused for good, and why, for
// those who follow it (`jobwatch submit --wait`, `jobwatch jobs`); a
// retry starts afresh over the record. Without a record (rec not in the
// table: refused before it had one), it writes one unless another
// request's record is there.
func (s *Submitter) refuse(ctx context.Context, rec *state.Request, reason string) {
	now := s.now().UTC()
	change := contract.NewStatusChange(contract.Ending{AppID: rec.AppID, BackendEnvironmentName: rec.BackendEnvironmentName,
		Operation: rec.Operation, RequestID: rec.ID(), Status: contract.StatusFailed, Error: "refused: " + reason,
		SubmittedAt: rec.ArrivedAt}, now)
	body, _ := json.Marshal(change) // plain struct: cannot fail
	fresh := !rec.Exists()
	err := s.store.EditRequest(ctx, rec, func(x *state.Request) (bool, error) {
		if x.Exists() && fresh && x.State != state.Refused {
			return false, nil // a record of its own, written before the refusal
		}
		x.Status, x.Error, x.Change, x.Unanswered = contract.StatusFailed, change.Error, string(body), false
		x.ExpiresAt = now.Add(state.RefusalRetention).Unix()
		x.Unlease()
		return true, x.To(state.Refused)
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not record the refusal", "error", err.Error())
		s.forget(ctx, rec)
	}
}

// refusal is the reason a refused request is told: the service's error
// code and message, or jobwatch's reason.
func refusal(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	}
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Reason
	}
	return err.Error()
}

// forget deletes the record of a request that came to nothing (it failed
// before its job was known), so that a retry starts afresh.
func (s *Submitter) forget(ctx context.Context, rec *state.Request) {
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

// putOff counts work put off for a transient failure (the Backoffs
// metric).
func (s *Submitter) putOff(_ context.Context, reason string) {
	s.metrics.Count(metrics.Backoffs, metrics.Dims{"Function": "submit", "Reason": reason})
}

// backoff is how long to put work off after its attempt-th transient
// failure.
func (s *Submitter) backoff(attempt int) time.Duration {
	return queue.Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffLimit, mrand.Float64)
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
