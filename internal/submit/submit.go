package submit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/tracked"
)

// StatusWaiting is the status of a request queued behind a pending job on
// its environment.
const StatusWaiting = "WAITING"

// CallFunc calls an Admin API operation with a typed input (as from
// amplify.Operation.DecodeInput) and returns its typed output.
type CallFunc func(ctx context.Context, op *amplify.Operation, input any) (any, error)

// ClientCall returns the CallFunc that calls through c.
func ClientCall(c *amplify.Client) CallFunc {
	return func(ctx context.Context, op *amplify.Operation, input any) (any, error) {
		return op.Call(ctx, c, input)
	}
}

// MessageSender is the part of the SQS client submit uses; *sqs.Client
// implements it.
type MessageSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Clients are the services a Submitter talks to.
type Clients struct {
	AdminAPI CallFunc
	SQS      MessageSender
	DynamoDB StateTable
	// Tracked, when set, records each job submit starts tracking, so the
	// discovery sweep leaves it alone.
	Tracked *tracked.Store
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
	sqs     MessageSender
	state   *store
	tracked *tracked.Store
	now     func() time.Time
	log     *slog.Logger
	allowed map[string]bool
}

// New returns a Submitter. now is the clock (time.Now in production).
func New(cfg Config, c Clients, now func() time.Time, log *slog.Logger) (*Submitter, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if c.AdminAPI == nil || c.SQS == nil || c.DynamoDB == nil {
		return nil, errors.New("submit: the Admin API, SQS and DynamoDB clients are required")
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
	s := &Submitter{cfg: cfg, call: c.AdminAPI, sqs: c.SQS, state: &store{db: c.DynamoDB, table: cfg.StateTable},
		tracked: c.Tracked, now: now, log: log}
	if len(cfg.AllowedAppIDs) > 0 {
		s.allowed = make(map[string]bool, len(cfg.AllowedAppIDs))
		for _, id := range cfg.AllowedAppIDs {
			s.allowed[id] = true
		}
	}
	return s, nil
}

// Tuning of the state machine.
const (
	// maxAttempts bounds the retries of a conditional write that lost to
	// a concurrent writer; pause spaces them.
	maxAttempts = 10
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

// request is a validated job request.
type request struct {
	id          string
	op          *amplify.Operation
	input       any
	inputJSON   string // compact, as received
	appID, env  string
	fingerprint string
}

// Submit runs one job request: it starts the job and sends its tracking
// message, or, when the environment is busy or others wait for it, puts
// the request in the environment's line. A request id seen before is
// answered from its record. Errors are *InvalidRequestError,
// *RefusedError, *InProgressError, *CallError, or a failure of SQS or
// DynamoDB.
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
	res, err := s.submitFresh(ctx, r)
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

// Check validates a job request as submit does before calling the
// service — known operation, one that starts a job jobwatch can watch, a
// well-formed input — without the deployment's ALLOWED_APP_IDS; the CLI
// uses it to refuse a bad request before it is sent.
func Check(jr contract.JobRequest) error {
	_, err := parse(jr)
	return err
}

func (s *Submitter) validate(jr contract.JobRequest) (*request, error) {
	r, err := parse(jr)
	if err != nil {
		return nil, err
	}
	if s.allowed != nil && !s.allowed[r.appID] {
		return nil, &RefusedError{RequestID: jr.RequestID, Operation: r.op.Name,
			Reason: fmt.Sprintf("app id %q is not in ALLOWED_APP_IDS", r.appID)}
	}
	return r, nil
}

func parse(jr contract.JobRequest) (*request, error) {
	op, err := amplify.LookupOperation(jr.Operation)
	if err != nil {
		return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: err}
	}
	if !op.StartsJob {
		return nil, &RefusedError{RequestID: jr.RequestID, Operation: op.Name, Reason: fmt.Sprintf(
			"%s starts no backend job, so there is nothing for jobwatch to watch; call it directly (jobwatch call %s)",
			op.Name, op.Name)}
	}
	if _, ok := member(op.NewInput(), "BackendEnvironmentName"); !ok {
		return nil, &RefusedError{RequestID: jr.RequestID, Operation: op.Name, Reason: fmt.Sprintf(
			"%s starts an app-wide job that belongs to no backend environment; jobwatch follows a job with "+
				"GetBackendJob, which needs one, and lines requests up per environment, so it cannot watch "+
				"this job; call it directly (jobwatch call %s)", op.Name, op.Name)}
	}
	in, err := op.DecodeInput(jr.Input)
	if err != nil {
		return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: err}
	}
	appID, _ := member(in, "AppId")
	env, _ := member(in, "BackendEnvironmentName")
	for _, m := range []struct{ name, value string }{{"AppId", appID}, {"BackendEnvironmentName", env}} {
		if m.value == "" {
			return nil, &InvalidRequestError{RequestID: jr.RequestID,
				Err: fmt.Errorf("%s input: member %s must not be empty", op.Name, m.name)}
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, jr.Input); err != nil {
		return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: fmt.Errorf("%s input: %w", op.Name, err)}
	}
	sum := sha256.Sum256([]byte(op.Name + "\x00" + compact.String()))
	return &request{id: jr.RequestID, op: op, input: in, inputJSON: compact.String(), appID: appID, env: env,
		fingerprint: hex.EncodeToString(sum[:])}, nil
}

// member reads the string member name of a typed input or output (all
// members are *string); ok is false when the shape has no such member.
func member(v any, name string) (value string, ok bool) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return "", false
	}
	f := rv.FieldByName(name)
	if !f.IsValid() {
		return "", false
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return "", true
		}
		f = f.Elem()
	}
	if f.Kind() != reflect.String {
		return "", false
	}
	return f.String(), true
}

func (s *Submitter) newRecord(r *request, now time.Time) *requestRecord {
	return &requestRecord{PK: requestKey(r.id), State: stateNew, Fingerprint: r.fingerprint,
		Operation: r.op.Name, AppID: r.appID, BackendEnvironmentName: r.env, ArrivedAt: now.UTC(),
		ExpiresAt: s.expiry(now)}
}

func (s *Submitter) expiry(now time.Time) int64 {
	return now.Add(s.cfg.WaitDeadline + recordTTL).Unix()
}

// leaseUntil is when a lock taken now ends: with the invocation, at the
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

func requestIDOf(rec *requestRecord) string { return strings.TrimPrefix(rec.PK, "req#") }

func resultOf(rec *requestRecord) Result {
	return Result{JobID: rec.JobID, AppID: rec.AppID, BackendEnvironmentName: rec.BackendEnvironmentName,
		Operation: rec.Operation, Status: rec.Status, RequestID: requestIDOf(rec)}
}

// submitFresh takes the request's record (creating it) and submits it, or
// answers a repeated request from its record.
func (s *Submitter) submitFresh(ctx context.Context, r *request) (Result, error) {
	token := newID()
	for attempt := range maxAttempts {
		now := s.now()
		rec, err := s.state.getRequest(ctx, r.id)
		if err != nil {
			return Result{}, err
		}
		held := false
		switch {
		case rec == nil:
			rec = s.newRecord(r, now)
		case rec.LockToken == token:
			// Our write landed although it was reported lost (the SDK
			// retried it and the retry found the condition false).
			held = true
		default:
			if rec.Fingerprint != r.fingerprint {
				return Result{}, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
					"requestId %q was already used for another request (%s on app %s environment %s); use a new requestId",
					r.id, rec.Operation, rec.AppID, rec.BackendEnvironmentName)}
			}
			switch {
			case rec.State == stateWaiting, rec.State == stateFailed, rec.State == stateTimedOut,
				rec.State == stateSubmitted && rec.Tracked:
				s.log.InfoContext(ctx, "repeated job request answered from its record", "jobId", rec.JobID, "status", rec.Status)
				return resultOf(rec), nil
			case rec.lockedAt(now):
				return Result{}, &InProgressError{RequestID: r.id}
			}
			// new or submitted but untracked, and its holder is gone: take over.
		}
		if !held {
			rec.lock(token, s.leaseUntil(ctx))
			if err := s.state.putRequest(ctx, rec); errors.Is(err, errConflict) {
				pause(ctx, attempt)
				continue
			} else if err != nil {
				return Result{}, err
			}
		}
		if rec.State == stateSubmitted {
			if err := s.track(ctx, rec); err != nil {
				return Result{}, err
			}
			return resultOf(rec), nil
		}
		return s.submitLocked(ctx, r, rec)
	}
	return Result{}, &InProgressError{RequestID: r.id}
}

// submitLocked submits a new request whose record this invocation holds.
func (s *Submitter) submitLocked(ctx context.Context, r *request, rec *requestRecord) (Result, error) {
	line, err := s.state.getLine(ctx, r.appID, r.env)
	if err != nil {
		s.release(ctx, rec)
		return Result{}, err
	}
	if len(line.Entries) > 0 {
		return s.join(ctx, r, rec, line, "others wait for the environment")
	}
	out, err := s.call(ctx, r.op, r.input)
	if err != nil {
		if isBusy(err) {
			return s.join(ctx, r, rec, line, "a job is pending on the environment")
		}
		s.release(ctx, rec)
		return Result{}, &CallError{RequestID: r.id, Operation: r.op.Name, AppID: r.appID, BackendEnvironmentName: r.env, Err: err}
	}
	if err := s.started(ctx, rec, out); err != nil {
		return Result{}, err
	}
	return resultOf(rec), nil
}

// release forgets a new request that came to nothing (refused, failed), so
// that a retry starts afresh.
func (s *Submitter) release(ctx context.Context, rec *requestRecord) {
	if rec.State != stateNew {
		return
	}
	if err := s.state.deleteRequest(ctx, rec); err != nil {
		// The lease runs out on its own; a retry waits for it.
		s.log.WarnContext(ctx, "could not release the request record", "error", err.Error())
	}
}

// join puts a request at the back of its environment's line and makes sure
// a wake-up will look at the line.
func (s *Submitter) join(ctx context.Context, r *request, rec *requestRecord, line *lineItem, reason string) (Result, error) {
	entry := lineEntry{RequestID: r.id, Request: waitingRequest{Operation: r.op.Name, Input: r.inputJSON},
		ArrivedAt: rec.ArrivedAt, Deadline: rec.ArrivedAt.Add(s.cfg.WaitDeadline)}
	for attempt := 0; line.position(r.id) < 0; attempt++ {
		if attempt == maxAttempts {
			s.release(ctx, rec)
			return Result{}, fmt.Errorf("join the line of app %s environment %s: %w", r.appID, r.env, errConflict)
		}
		if len(line.Entries) >= s.cfg.MaxLine {
			s.release(ctx, rec)
			return Result{}, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"%d requests already wait for app %s environment %s, the most a line holds; try again later",
				len(line.Entries), r.appID, r.env)}
		}
		line.Entries = append(line.Entries, entry)
		if line.size() > maxLineBytes {
			s.release(ctx, rec)
			return Result{}, &RefusedError{RequestID: r.id, Operation: r.op.Name, Reason: fmt.Sprintf(
				"the requests waiting for app %s environment %s already fill the line's %d KB; try again later",
				r.appID, r.env, maxLineBytes/1024)}
		}
		err := s.state.putLine(ctx, line, s.now())
		if err == nil {
			break
		}
		if !errors.Is(err, errConflict) {
			s.release(ctx, rec)
			return Result{}, err
		}
		pause(ctx, attempt)
		if line, err = s.state.getLine(ctx, r.appID, r.env); err != nil {
			s.release(ctx, rec)
			return Result{}, err
		}
	}
	if err := s.scheduleLook(ctx, line, ""); err != nil {
		// The request is in the line but nothing may come to look at it:
		// fail, so that the retry (which finds it in the line) schedules.
		s.unlock(ctx, rec)
		return Result{}, err
	}
	token := rec.LockToken
	if err := s.update(ctx, rec, func(x *requestRecord) {
		if x.State == stateNew {
			x.State, x.Status = stateWaiting, StatusWaiting
		}
		if x.LockToken == token {
			x.unlock()
		}
	}); err != nil {
		return Result{}, err
	}
	s.log.InfoContext(ctx, "environment busy: the request waits in line",
		"reason", reason, "position", line.position(r.id)+1, "status", rec.Status)
	return resultOf(rec), nil
}

// update applies change to rec and writes it, reading the record again
// and reapplying change when another writer came first: for changes that
// must land (a job was started, a message was sent).
func (s *Submitter) update(ctx context.Context, rec *requestRecord, change func(*requestRecord)) error {
	for attempt := range maxAttempts {
		change(rec)
		rec.ExpiresAt = s.expiry(s.now())
		err := s.state.putRequest(ctx, rec)
		if !errors.Is(err, errConflict) {
			return err
		}
		pause(ctx, attempt)
		cur, err := s.state.getRequest(ctx, requestIDOf(rec))
		if err != nil {
			return err
		}
		if cur == nil {
			rec.Rev = 0 // deleted meanwhile: write it anew
			continue
		}
		*rec = *cur
	}
	return fmt.Errorf("update %s: %w", rec.PK, errConflict)
}

// unlock gives up this invocation's lease on rec after a failure.
func (s *Submitter) unlock(ctx context.Context, rec *requestRecord) {
	token := rec.LockToken
	err := s.update(ctx, rec, func(x *requestRecord) {
		if x.LockToken == token {
			x.unlock()
		}
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not release the request's lease", "error", err.Error())
	}
}

// started records the job an operation started and sends its tracking
// message.
func (s *Submitter) started(ctx context.Context, rec *requestRecord, out any) error {
	jobID, _ := member(out, "JobId")
	status, _ := member(out, "Status")
	now := s.now().UTC()
	if jobID == "" {
		err := fmt.Errorf("%s answered without a JobId: there is no job to watch", rec.Operation)
		_ = s.update(ctx, rec, func(x *requestRecord) {
			x.State, x.Status, x.Error = stateFailed, contract.StatusFailed, err.Error()
			x.unlock()
		})
		return err
	}
	if err := s.update(ctx, rec, func(x *requestRecord) {
		x.State, x.JobID, x.Status, x.SubmittedAt, x.Tracked = stateSubmitted, jobID, status, &now, false
	}); err != nil {
		return fmt.Errorf("record job %s: %w", jobID, err)
	}
	return s.track(ctx, rec)
}

// track sends the tracking message of a submitted request and notes it.
func (s *Submitter) track(ctx context.Context, rec *requestRecord) error {
	ctx = logging.With(ctx, slog.String("jobId", rec.JobID))
	submittedAt := rec.ArrivedAt // a submitted record has SubmittedAt; this guards an edited one
	if rec.SubmittedAt != nil {
		submittedAt = *rec.SubmittedAt
	}
	msg := contract.TrackingMessage{
		Version:                contract.TrackingVersion,
		AppID:                  rec.AppID,
		BackendEnvironmentName: rec.BackendEnvironmentName,
		JobID:                  rec.JobID,
		Operation:              rec.Operation,
		RequestID:              requestIDOf(rec),
		SubmittedAt:            submittedAt,
		Deadline:               submittedAt.Add(s.cfg.Deadline),
		LastStatus:             rec.Status,
	}
	if err := s.send(ctx, s.cfg.JobsQueueURL, msg, s.cfg.InitialPollDelay); err != nil {
		s.unlock(ctx, rec)
		return fmt.Errorf("send the tracking message of job %s: %w", rec.JobID, err)
	}
	if err := s.update(ctx, rec, func(x *requestRecord) { x.Tracked = true; x.unlock() }); err != nil {
		return fmt.Errorf("record that job %s is tracked: %w", rec.JobID, err)
	}
	if s.tracked != nil {
		// After the tracking message: a job recorded but never sent would
		// be skipped by the sweep and lost; one sent but not recorded is at
		// worst tracked twice, and its notifications de-duplicated.
		if _, err := s.tracked.Start(ctx, msg, "submit"); err != nil {
			s.log.WarnContext(ctx, "could not record the tracked job", "error", err.Error())
		}
	}
	s.log.InfoContext(ctx, "job submitted", "status", rec.Status)
	return nil
}

// send writes v as JSON to a queue.
func (s *Submitter) send(ctx context.Context, queueURL string, v any, delay time.Duration) error {
	_, err := s.sendID(ctx, queueURL, v, delay)
	return err
}

func (s *Submitter) sendID(ctx context.Context, queueURL string, v any, delay time.Duration) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	out, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(queueURL),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: int32(delay / time.Second),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
