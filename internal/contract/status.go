package contract

import (
	"encoding/json"
	"fmt"
	"time"
)

// Statuses of a status-change event. COMPLETED and FAILED come from the
// service; TIMED_OUT and LOST are jobwatch's verdicts.
const (
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	// StatusTimedOut: the job (or the request waiting for its environment)
	// was still not done at its deadline.
	StatusTimedOut = "TIMED_OUT"
	// StatusLost: the service kept answering NotFound for the job past the
	// grace period after submission.
	StatusLost = "LOST"
	// StatusStillRunning: not an end, a warning that the job has been
	// running longer than configured.
	StatusStillRunning = "STILL_RUNNING"
)

// StatusChangeVersion is the version of StatusChange this code writes and
// the highest it reads.
const StatusChangeVersion = 1

// StatusChange is the detail of an "Amplify Backend Job Status Change"
// event, and the body of a completions-queue message. schemas/ holds its
// JSON Schema.
type StatusChange struct {
	Version                int     `json:"version"`
	AppID                  string  `json:"appId"`
	BackendEnvironmentName string  `json:"backendEnvironmentName"`
	JobID                  string  `json:"jobId"`
	Operation              string  `json:"operation"`
	Status                 string  `json:"status"`
	PreviousStatus         string  `json:"previousStatus,omitempty"`
	Error                  string  `json:"error,omitempty"`
	CreateTime             string  `json:"createTime,omitempty"`
	UpdateTime             string  `json:"updateTime,omitempty"`
	SubmittedAt            string  `json:"submittedAt"`
	DetectedAt             string  `json:"detectedAt"`
	DurationSeconds        float64 `json:"durationSeconds"`
	Polls                  int     `json:"polls"`
	RequestID              string  `json:"requestId,omitempty"`
	EventKey               string  `json:"eventKey"`
}

// EventKey is the idempotency key of a status change: one per job and
// status. A request that timed out before it got a job uses its request id.
func EventKey(appID, env, jobID, requestID, status string) string {
	id := jobID
	if id == "" {
		id = "request:" + requestID
	}
	return appID + "/" + env + "/" + id + "/" + status
}

// JobARN is the ARN of a job, the event's resource; a request that never
// got a job names its environment instead.
func JobARN(region, account, appID, env, jobID string) string {
	if jobID == "" {
		return fmt.Sprintf("arn:aws:amplifybackend:%s:%s:/backend/%s/environments/%s", region, account, appID, env)
	}
	return fmt.Sprintf("arn:aws:amplifybackend:%s:%s:/backend/%s/job/%s", region, account, appID, jobID)
}

// Timestamp formats times in status changes: RFC 3339, UTC, milliseconds.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// IsTerminal reports whether a status-change status ends a job's tracking.
func IsTerminal(status string) bool {
	switch status {
	case StatusCompleted, StatusFailed, StatusTimedOut, StatusLost:
		return true
	}
	return false
}

// IsKnownStatus reports whether a status-change event may carry status
// (schemas/status-change.schema.json lists the same).
func IsKnownStatus(status string) bool {
	return IsTerminal(status) || status == StatusStillRunning
}

// DecodeStatusChange reads and checks a completions-queue message.
func DecodeStatusChange(body []byte) (StatusChange, error) {
	var s StatusChange
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("status change: %w", describeJSONError(err))
	}
	if s.Version < 1 || s.Version > StatusChangeVersion {
		return s, &FieldError{"status change", "version", fmt.Sprintf("is %d; this version of jobwatch reads 1..%d", s.Version, StatusChangeVersion)}
	}
	for _, f := range []struct{ name, value string }{
		{"appId", s.AppID}, {"backendEnvironmentName", s.BackendEnvironmentName},
		{"operation", s.Operation}, {"status", s.Status}, {"submittedAt", s.SubmittedAt},
		{"detectedAt", s.DetectedAt}, {"eventKey", s.EventKey},
	} {
		if f.value == "" {
			return s, &FieldError{"status change", f.name, "is required"}
		}
	}
	if s.JobID == "" && s.RequestID == "" {
		return s, &FieldError{"status change", "jobId", "is required when there is no requestId"}
	}
	if want := EventKey(s.AppID, s.BackendEnvironmentName, s.JobID, s.RequestID, s.Status); s.EventKey != want {
		return s, &FieldError{"status change", "eventKey", fmt.Sprintf("is %q, want %q", s.EventKey, want)}
	}
	return s, nil
}
