package state

import (
	"context"
	"encoding/json"
	"time"
)

// Line is the item line#<appId>#<env>: the requests waiting for an
// environment in arrival order, and the wake-up scheduled to look at them.
type Line struct {
	stored
	AppID                  string      `dynamodbav:"appId"`
	BackendEnvironmentName string      `dynamodbav:"backendEnvironmentName"`
	Entries                []LineEntry `dynamodbav:"entries"`
	// WakeID is the SQS message id of the wake-up scheduled for the line
	// and WakeAt (Unix milliseconds) when it is due: while it is pending,
	// nobody else schedules one, so a line has one chain of wake-ups.
	WakeID string `dynamodbav:"wakeId,omitempty"`
	WakeAt int64  `dynamodbav:"wakeAt,omitempty"`
	// ExpiresAt (Unix seconds) is set on an empty line only, so that idle
	// environments do not accumulate items.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

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

// Fits reports whether the line stays within MaxLineBytes. It measures
// JSON, a little larger than DynamoDB's own accounting: the safe side.
func (l *Line) Fits() bool {
	b, _ := json.Marshal(l)
	return len(b) <= MaxLineBytes
}

// settle gives an empty line its expiry, and takes it from one in use.
func (l *Line) settle(now time.Time) {
	l.ExpiresAt = 0
	if len(l.Entries) == 0 {
		l.Entries = []LineEntry{}
		l.ExpiresAt = now.Add(emptyLineTTL).Unix()
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

// EditLine writes the changes change makes to l, conditional on l's
// revision (see edit): change runs again on the line as it is whenever
// another writer came first, and reports whether to write. l is left as
// written, or as last read when change decided not to write.
func (s *Store) EditLine(ctx context.Context, l *Line, change func(*Line) (bool, error)) error {
	return edit(ctx, s, l, change)
}
