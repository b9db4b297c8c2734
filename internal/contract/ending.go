package contract

import (
	"math"
	"strconv"
	"time"
)

// Ending is what a status change tells: a job (or a request that got no
// job) and the status it reached. NewStatusChange makes the event of it;
// submit (a request given up) and poll (a job's end or warning) both build
// their status changes this way.
type Ending struct {
	AppID, BackendEnvironmentName, Operation string
	// JobID is empty for a request that never got a job; RequestID is
	// empty for a job started outside jobwatch.
	JobID, RequestID string
	Status           string
	PreviousStatus   string
	Error            string
	// CreateTime and UpdateTime are the service's, when there is a job.
	CreateTime, UpdateTime string
	// SubmittedAt is when jobwatch started the job or received the
	// request.
	SubmittedAt time.Time
	// Polls is how many lookups it took.
	Polls int
}

// NewStatusChange is the status change of e, detected at now. Its
// duration is how long the service says the job ran when it ended
// COMPLETED or FAILED, otherwise the time from its creation (or
// submission) to now.
func NewStatusChange(e Ending, now time.Time) StatusChange {
	c := StatusChange{
		Version: StatusChangeVersion, AppID: e.AppID, BackendEnvironmentName: e.BackendEnvironmentName,
		JobID: e.JobID, Operation: e.Operation, Status: e.Status, PreviousStatus: e.PreviousStatus, Error: e.Error,
		CreateTime: e.CreateTime, UpdateTime: e.UpdateTime,
		SubmittedAt: Timestamp(e.SubmittedAt), DetectedAt: Timestamp(now),
		Polls: e.Polls, RequestID: e.RequestID,
		EventKey: EventKey(e.AppID, e.BackendEnvironmentName, e.JobID, e.RequestID, e.Status),
	}
	d, ok := ServiceDuration(e.CreateTime, e.UpdateTime)
	if !ok || (e.Status != StatusCompleted && e.Status != StatusFailed) {
		start := e.SubmittedAt
		if t, ok := ParseServiceTime(e.CreateTime); ok {
			start = t
		}
		d = now.Sub(start)
	}
	c.DurationSeconds = math.Round(d.Seconds()*1000) / 1000
	return c
}

// ServiceDuration is how long the service says a job ran, from its
// CreateTime to its UpdateTime.
func ServiceDuration(createTime, updateTime string) (time.Duration, bool) {
	start, ok1 := ParseServiceTime(createTime)
	end, ok2 := ParseServiceTime(updateTime)
	if !ok1 || !ok2 || end.Before(start) {
		return 0, false
	}
	return end.Sub(start), true
}

// ParseServiceTime reads the Admin API's timestamps: ISO 8601 with or
// without a zone, or epoch milliseconds.
func ParseServiceTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	return time.Time{}, false
}

// NewWakeup is the wake-up for an environment's line.
func NewWakeup(appID, env string) Wakeup {
	return Wakeup{Version: WakeupVersion, AppID: appID, BackendEnvironmentName: env}
}
