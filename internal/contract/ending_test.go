package contract_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// TestNewStatusChange checks the event key and the duration a status
// change reports: the service's run time for a job that ended, the time
// since its creation for one declared TIMED_OUT, the wait for a request
// that got no job.
func TestNewStatusChange(t *testing.T) {
	now := time.Date(2026, 3, 2, 11, 10, 0, 0, time.UTC)
	submitted := now.Add(-10 * time.Minute)
	job := contract.Ending{AppID: "d1abc23", BackendEnvironmentName: "dev", JobID: "j1", Operation: "CloneBackend", RequestID: "r1",
		CreateTime: "2026-03-02T11:01:00Z", UpdateTime: "2026-03-02T11:05:10.5Z", SubmittedAt: submitted, Polls: 3}
	tests := map[string]struct {
		status       string
		noJob        bool
		wantKey      string
		wantDuration float64
	}{
		"completed: the service's run time": {status: contract.StatusCompleted, wantKey: "d1abc23/dev/j1/COMPLETED", wantDuration: 250.5},
		"timed out: since its creation":     {status: contract.StatusTimedOut, wantKey: "d1abc23/dev/j1/TIMED_OUT", wantDuration: 540},
		"no job: since the request came":    {status: contract.StatusTimedOut, noJob: true, wantKey: "d1abc23/dev/request:r1/TIMED_OUT", wantDuration: 600},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := job
			e.Status = tc.status
			if tc.noJob {
				e.JobID, e.CreateTime, e.UpdateTime = "", "", ""
			}
			c := contract.NewStatusChange(e, now)
			if c.EventKey != tc.wantKey || c.DurationSeconds != tc.wantDuration || c.Version != contract.StatusChangeVersion ||
				c.DetectedAt != "2026-03-02T11:10:00.000Z" || c.Polls != 3 {
				t.Errorf("status change = %+v; want key %s, duration %v", c, tc.wantKey, tc.wantDuration)
			}
			if _, err := contract.DecodeStatusChange(mustJSON(t, c)); err != nil {
				t.Errorf("the status change does not decode: %v", err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
