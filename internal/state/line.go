package state

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Line is the item line#<appId>#<env>: the requests waiting for an
// environment in arrival order, and the wake-up scheduled to look at them.
type Line struct {
	stored
	AppID                  string      `dynamodbav:"appId"`
	BackendEnvironmentName string      `dynamodbav:"backendEnvironmentName"`
	Entries                []LineEntry `dynamodbav:"entries"`
	// Waiting is how many requests wait (len(Entries) as last written),
	// and Order their ids in arrival order, so that the line can be looked
	// at without reading their inputs (the sweep; `submit --wait`, whose
	// IAM policy may read only these attributes).
	Waiting int      `dynamodbav:"waiting"`
	Order   []string `dynamodbav:"order"`
	// WakeID is the SQS message id of the wake-up scheduled for the line
	// and WakeAt (Unix milliseconds) when it is due: while it is pending,
	// nobody else schedules one, so a line has one chain of wake-ups.
	WakeID string `dynamodbav:"wakeId,omitempty"`
	WakeAt int64  `dynamodbav:"wakeAt,omitempty"`
	// Starting lists the requests of the environment that may have started
	// a job jobwatch does not know yet: each from before its job-starting
	// call until its job is claimed, or it is known that no job came of
	// it. While one is listed, no other request of the environment calls,
	// and the sweep leaves alone the jobs of its operation created since
	// its StartingAt less ClockSkew (see Reconciling).
	Starting []StartMarker `dynamodbav:"starting,omitempty"`
	// ExpiresAt (Unix seconds) is set on an empty line only, so that idle
	// environments do not accumulate items.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// StartMarker says that a request is starting a job on the environment,
// or checking whether an unanswered call started one.
type StartMarker struct {
	RequestID string `dynamodbav:"requestId"`
	Operation string `dynamodbav:"operation"`
	// At is the request's StartingAt: its first call whose answer is not
	// known.
	At time.Time `dynamodbav:"at"`
}

// ClockSkew is how far the Admin API's clock (a job's CreateTime) may be
// from jobwatch's (a request's StartingAt): the jobs a request looks for
// after an unanswered call, and those the sweep leaves to it, are created
// since StartingAt less ClockSkew.
const ClockSkew = 2 * time.Minute

// WakeGrace is how long past its due time a scheduled wake-up is still
// trusted to come; after it, another one is sent.
const WakeGrace = 2 * time.Minute

// LineEntry is one waiting request.
type LineEntry struct {
	RequestID string         `dynamodbav:"requestId"`
	Request   WaitingRequest `dynamodbav:"request"`
	ArrivedAt time.Time      `dynamodbav:"arrivedAt"`
	Deadline  time.Time      `dynamodbav:"deadline"`
}

// WaitingRequest is what is needed to submit a waiting request later.
// Its input can hold secrets (an OAuth client secret): it stays in the
// table while the request waits, and is never logged.
type WaitingRequest struct {
	Operation string `dynamodbav:"operation"`
	// Input is the operation's input as JSON (Request Syntax member names).
	Input string `dynamodbav:"input"`
}

// emptyLineTTL is how long an empty line item stays before TTL deletes it.
const emptyLineTTL = 7 * 24 * time.Hour

// MaxLineBytes keeps a line item under DynamoDB's 400 KB item limit with
// room for attribute names and the other attributes.
const MaxLineBytes = 350 * 1024

func lineKey(appID, env string) string { return "line#" + appID + "#" + env }

// Position is the index of a request in the line, -1 when it is not in it.
func (l *Line) Position(requestID string) int {
	for i, e := range l.Entries {
		if e.RequestID == requestID {
			return i
		}
	}
	return -1
}

// Marker returns the start marker of a request; ok is false when it has
// none.
func (l *Line) Marker(requestID string) (m StartMarker, ok bool) {
	for _, m := range l.Starting {
		if m.RequestID == requestID {
			return m, true
		}
	}
	return StartMarker{}, false
}

// Mark lists m among the requests starting, in place of the request's
// earlier marker.
func (l *Line) Mark(m StartMarker) {
	l.Unmark(m.RequestID)
	l.Starting = append(l.Starting, m)
}

// Unmark takes a request off the requests starting; false when it was
// not on.
func (l *Line) Unmark(requestID string) bool {
	n := len(l.Starting)
	l.Starting = slices.DeleteFunc(l.Starting, func(m StartMarker) bool { return m.RequestID == requestID })
	return len(l.Starting) < n
}

// Reconciling reports whether a job of operation created at created may
// be one a starting request has yet to claim: it was created since that
// request's StartingAt less ClockSkew. The sweep leaves such jobs alone.
func (l *Line) Reconciling(operation string, created time.Time) bool {
	for _, m := range l.Starting {
		if m.Operation == operation && !created.Before(m.At.Add(-ClockSkew)) {
			return true
		}
	}
	return false
}

// WakePending reports whether a wake-up is scheduled for the line and
// not overdue (due at most WakeGrace ago).
func (l *Line) WakePending(now time.Time) bool {
	return l.WakeID != "" && now.Before(time.UnixMilli(l.WakeAt).Add(WakeGrace))
}

// Fits reports whether the line stays within MaxLineBytes. It measures
// JSON, a little larger than DynamoDB's own accounting: the safe side.
func (l *Line) Fits() bool {
	b, _ := json.Marshal(l)
	return len(b) <= MaxLineBytes
}

// settle gives an empty line its expiry, and takes it from one in use
// or with a request starting.
func (l *Line) settle(now time.Time) {
	l.ExpiresAt, l.Waiting, l.Order = 0, len(l.Entries), make([]string, len(l.Entries))
	for i, e := range l.Entries {
		l.Order[i] = e.RequestID
	}
	if len(l.Entries) == 0 {
		l.Entries = []LineEntry{}
		if len(l.Starting) == 0 {
			l.ExpiresAt = now.Add(emptyLineTTL).Unix()
		}
	}
}

// Line reads the line of an environment; an absent item is an empty line
// that does not exist yet.
func (s *Store) Line(ctx context.Context, appID, env string) (*Line, error) {
	l := &Line{stored: stored{PK: lineKey(appID, env)}, AppID: appID, BackendEnvironmentName: env}
	if _, err := s.get(ctx, l.PK, l); err != nil {
		return nil, err
	}
	return l, nil
}

// LineSummary reads what the sweep needs of a line without the waiting
// requests, whose inputs can hold secrets: how many wait, the wake-up and
// the start markers (Entries stays empty).
func (s *Store) LineSummary(ctx context.Context, appID, env string) (*Line, error) {
	l := &Line{stored: stored{PK: lineKey(appID, env)}, AppID: appID, BackendEnvironmentName: env}
	if _, err := s.get(ctx, l.PK, l, "pk", "rev", "waiting", "wakeId", "wakeAt", "starting"); err != nil {
		return nil, err
	}
	return l, nil
}

// EditLine writes the changes change makes to l, conditional on l's
// revision (see edit): change runs again on the line as it is whenever
// another writer came first, and reports whether to write. l is left as
// written, or as last read when change decided not to write.
func (s *Store) EditLine(ctx context.Context, l *Line, change func(*Line) (bool, error)) error {
	return edit(ctx, s, l, change)
}
