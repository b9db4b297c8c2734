package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TrackingVersion is the version of TrackingMessage this code writes and
// the highest it reads. Fields added since version 1 are optional, with a
// zero value that means what their absence meant (seq 0: the first step of
// a chain), so versions before them read these messages as they did.
const TrackingVersion = 1

// TrackingMessage is the body of a jobs-queue message: everything poll
// needs to follow one job without a database.
type TrackingMessage struct {
	Version                int    `json:"v"`
	AppID                  string `json:"appId"`
	BackendEnvironmentName string `json:"backendEnvironmentName"`
	JobID                  string `json:"jobId"`
	Operation              string `json:"operation"`
	RequestID              string `json:"requestId,omitempty"`
	// TargetEnvironmentName is the environment a clone creates, whose
	// stack announces the clone's end.
	TargetEnvironmentName string    `json:"targetEnvironmentName,omitempty"`
	SubmittedAt           time.Time `json:"submittedAt"`
	Deadline              time.Time `json:"deadline"`
	// Polls counts the Admin API lookups made for this job so far.
	Polls int `json:"polls"`
	// LastStatus is the status seen at the last lookup.
	LastStatus string `json:"lastStatus,omitempty"`
	// NotBefore chains SQS delays longer than 900 s: a message received
	// before it is re-queued without a lookup.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	// CreateTime is the job's CreateTime as the service reported it.
	CreateTime string `json:"createTime,omitempty"`
	// StillRunningSent records that the STILL_RUNNING warning went out.
	StillRunningSent bool `json:"stillRunningSent,omitempty"`
	// Seq and SeqID place the message in its job's tracking chain: each
	// message poll sends to follow the job on is the next step (Seq + 1,
	// a new SeqID), and the job's record in the state table names the
	// step it accepts, so that a duplicate, or a fork a crash or a
	// duplicate left, is dropped (see internal/state's chain). The first
	// message of a chain, as submit and the sweep send it, has neither
	// (step 0). A sender restarting the chain of a job whose record has
	// moved on sends a Seq past the record's: poll adopts it.
	Seq   int    `json:"seq,omitempty"`
	SeqID string `json:"seqId,omitempty"`
}

// DecodeTrackingMessage reads and checks a tracking message.
func DecodeTrackingMessage(body []byte) (TrackingMessage, error) {
	var m TrackingMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return m, trackingError(body, err)
	}
	if m.Version < 1 || m.Version > TrackingVersion {
		return m, &FieldError{"tracking message", "v", fmt.Sprintf("is %d; this version of jobwatch reads 1..%d", m.Version, TrackingVersion)}
	}
	for _, f := range []struct{ name, value string }{
		{"appId", m.AppID}, {"backendEnvironmentName", m.BackendEnvironmentName},
		{"jobId", m.JobID}, {"operation", m.Operation},
	} {
		if f.value == "" {
			return m, &FieldError{"tracking message", f.name, "is required"}
		}
	}
	if m.SubmittedAt.IsZero() {
		return m, &FieldError{"tracking message", "submittedAt", "is required"}
	}
	if m.Deadline.IsZero() {
		return m, &FieldError{"tracking message", "deadline", "is required"}
	}
	if m.Polls < 0 {
		return m, &FieldError{"tracking message", "polls", "must not be negative"}
	}
	if m.Seq < 0 {
		return m, &FieldError{"tracking message", "seq", "must not be negative"}
	}
	return m, nil
}

// trackingError names the field of a tracking message that could not be
// read: encoding/json does not say which time it failed on, so the times
// are read again one by one.
func trackingError(body []byte, err error) error {
	var times struct {
		SubmittedAt json.RawMessage `json:"submittedAt"`
		Deadline    json.RawMessage `json:"deadline"`
		NotBefore   json.RawMessage `json:"notBefore"`
	}
	if json.Unmarshal(body, &times) == nil {
		for _, f := range []struct {
			name string
			raw  json.RawMessage
		}{{"submittedAt", times.SubmittedAt}, {"deadline", times.Deadline}, {"notBefore", times.NotBefore}} {
			var t time.Time
			if terr := decodeTime(f.raw, &t); terr != nil {
				return &FieldError{"tracking message", f.name, terr.Error()}
			}
		}
	}
	return fmt.Errorf("tracking message: %w", describeJSONError(err))
}

func asError(err error, target any) bool { return errors.As(err, target) }

// decodeTime reads an RFC 3339 timestamp; an absent one stays zero.
func decodeTime(raw json.RawMessage, dst *time.Time) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return errors.New("must be an RFC 3339 time string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errors.New("must be an RFC 3339 time such as 2026-11-25T12:00:00Z")
	}
	*dst = t
	return nil
}
