package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RequestState is where a job request is in its life:
//
//	received ◀─▶ starting ──▶ started
//	    │          ▲    │
//	    │          │    ▼
//	    └────────▶ waiting
//
//	received, starting, waiting ──▶ failed | timedOut
//	received, starting ──▶ refused
//
// A request is received (its record created, leased to the invocation
// handling it); starting is recorded, with its time, before each
// job-starting Admin API call, so that an answer lost with a crash can be
// looked for, and left for received again when the call's answer says it
// started nothing (busy, throttled, refused); started once the job id is
// known; waiting while it is in its environment's line. It ends failed (the service refused it for good) or
// timedOut (it waited past its deadline) without a job. A request refused
// before it had a job or a place in line (by jobwatch: a full line, an
// app not allowed; or by the service) is recorded refused, with the
// reason, for RefusalRetention, so that whoever follows it learns why;
// a retry of the same request id starts afresh over that record. Each
// move is a conditional write (EditRequest).
//
// A call whose answer does not say whether the job started (a timeout, a
// 5xx, a dropped connection, or a starting record whose holder is gone)
// makes the request Unanswered: from then until it has a job or ends, it
// looks for a job of its own among the environment's jobs created since
// StartingAt (which stays at that call) before it calls again, whichever
// state it is in.
type RequestState string

// The states of a request.
const (
	Received RequestState = "received"
	Starting RequestState = "starting"
	Started  RequestState = "started"
	Waiting  RequestState = "waiting"
	Failed   RequestState = "failed"
	TimedOut RequestState = "timedOut"
	Refused  RequestState = "refused"
)

// RefusalRetention is how long the record of a refused request is kept.
const RefusalRetention = 24 * time.Hour

// moves lists where a request may go from each state; a state it does
// not list is final.
var moves = map[RequestState][]RequestState{
	Received: {Starting, Waiting, Failed, TimedOut, Refused},
	Starting: {Received, Started, Waiting, Failed, TimedOut, Refused},
	Waiting:  {Starting, Failed, TimedOut},
}

// legacyStates are the names earlier versions stored, read as today's.
var legacyStates = map[string]RequestState{"new": Received, "submitted": Started}

// UnmarshalDynamoDBAttributeValue implements attributevalue.Unmarshaler:
// it reads the names of earlier versions too, so records written before an
// upgrade keep their meaning.
func (s *RequestState) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	v, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("request state: want a string, got %T", av)
	}
	*s = RequestState(v.Value)
	if now, ok := legacyStates[v.Value]; ok {
		*s = now
	}
	return nil
}

// ErrTransition says a request was asked to make a move its life does not
// have.
var ErrTransition = errors.New("no such move")

// Request is the record req#<requestId> of a job request.
type Request struct {
	stored
	// State is where the request is in its life.
	State RequestState `dynamodbav:"state"`
	// Fingerprint identifies the request's content (operation and input),
	// so that a request id reused for another request is noticed.
	Fingerprint            string `dynamodbav:"fingerprint"`
	Operation              string `dynamodbav:"operation"`
	AppID                  string `dynamodbav:"appId"`
	BackendEnvironmentName string `dynamodbav:"backendEnvironmentName"`
	// TargetEnvironmentName is the environment a clone creates: its
	// stack announces the clone's end.
	TargetEnvironmentName string    `dynamodbav:"targetEnvironmentName,omitempty"`
	ArrivedAt             time.Time `dynamodbav:"arrivedAt"`
	// StartingAt is when the last job-starting call was made for it; while
	// the request is Unanswered, when the first unanswered one was.
	StartingAt *time.Time `dynamodbav:"startingAt,omitempty"`
	// WaitingSince is when the request first joined its environment's
	// line.
	WaitingSince *time.Time `dynamodbav:"waitingSince,omitempty"`
	// Unanswered says a job-starting call was made whose answer did not
	// say whether the job started: a job of the request may exist.
	Unanswered bool   `dynamodbav:"unanswered,omitempty"`
	JobID      string `dynamodbav:"jobId,omitempty"`
	// Status is the job's status as the service answered, or WAITING,
	// FAILED, TIMED_OUT for a request that got no job (FAILED when it was
	// refused).
	Status      string     `dynamodbav:"status,omitempty"`
	SubmittedAt *time.Time `dynamodbav:"submittedAt,omitempty"`
	// Tracked is true once the job's tracking message went to the jobs
	// queue.
	Tracked bool   `dynamodbav:"tracked"`
	Error   string `dynamodbav:"error,omitempty"`
	// Change is the status change of a request that ended without a job
	// (JSON), for `jobwatch jobs` and `submit --wait`.
	Change string `dynamodbav:"change,omitempty"`
	// LockToken and LockUntil (Unix milliseconds) lease the request to
	// one invocation while it works on it (calls the Admin API).
	LockToken string `dynamodbav:"lockToken,omitempty"`
	LockUntil int64  `dynamodbav:"lockUntil,omitempty"`
	// ExpiresAt (Unix seconds) lets DynamoDB TTL delete the record.
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

func requestKey(requestID string) string { return "req#" + requestID }

// NewRequest returns the record of a request just received, not yet in
// the table.
func NewRequest(requestID string) *Request {
	return &Request{stored: stored{PK: requestKey(requestID)}, State: Received}
}

// ID is the request's id.
func (r *Request) ID() string { return strings.TrimPrefix(r.PK, "req#") }

func (r *Request) settle(time.Time) {}

// To moves r to state to. Staying is always allowed (a lease changes
// hands, the tracking message was sent); a move the life of a request
// does not have is an error and leaves r as it was.
func (r *Request) To(to RequestState) error {
	if r.State != to && !slices.Contains(moves[r.State], to) {
		return fmt.Errorf("request %s: %w from %s to %s", r.ID(), ErrTransition, r.State, to)
	}
	r.State = to
	return nil
}

// Done reports whether nothing is left to do for the request: it ended
// without a job, or its job started and is tracked.
func (r *Request) Done() bool {
	return r.State == Failed || r.State == TimedOut || r.State == Started && r.Tracked
}

// Leased reports whether an invocation holds the request at now.
func (r *Request) Leased(now time.Time) bool {
	return r.LockToken != "" && now.UnixMilli() < r.LockUntil
}

// Lease gives the request to the holder of token until the given time.
func (r *Request) Lease(token string, until time.Time) {
	r.LockToken, r.LockUntil = token, until.UnixMilli()
}

// Unlease ends the request's lease.
func (r *Request) Unlease() { r.LockToken, r.LockUntil = "", 0 }

// Request reads the record of a request; nil when there is none.
func (s *Store) Request(ctx context.Context, requestID string) (*Request, error) {
	var r Request
	found, err := s.get(ctx, requestKey(requestID), &r)
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// EditRequest writes the changes change makes to r, conditional on r's
// revision (see edit): change runs again on the record as it is whenever
// another writer came first, and reports whether to write. r is left as
// written, or as last read when change decided not to write.
func (s *Store) EditRequest(ctx context.Context, r *Request, change func(*Request) (bool, error)) error {
	return edit(ctx, s, r, change)
}

// DropRequest deletes the record of a request that came to nothing —
// refused, or failed before its job was known — if it is still at the
// revision r was read at, so that a retry starts afresh.
func (s *Store) DropRequest(ctx context.Context, r *Request) error {
	err := s.delete(ctx, r.PK, revision(r.Rev))
	if errors.As(err, new(*conflict)) {
		return fmt.Errorf("delete %s: %w", r.PK, ErrConflict)
	}
	return err
}
