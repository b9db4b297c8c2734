package contract

import (
	"encoding/json"
	"fmt"
)

// WakeupVersion is the version of Wakeup this code writes and reads.
const WakeupVersion = 1

// Wakeup is the body of a waiting-queue message: "look at the line of
// requests waiting for this environment". The requests themselves live in
// the state table, in arrival order; wake-ups only prompt submit to try the
// head of the line, so a duplicate or extra wake-up is harmless.
type Wakeup struct {
	Version                int    `json:"v"`
	AppID                  string `json:"appId"`
	BackendEnvironmentName string `json:"backendEnvironmentName"`
	// Chain names the line's chain of wake-ups this one belongs to, as the
	// line notes it; a copy sent again after a failure keeps it. Wake-ups
	// from outside the chain (poll's at a job's end, the sweep's) have
	// none.
	Chain string `json:"chain,omitempty"`
}

// DecodeWakeup reads and checks a wake-up.
func DecodeWakeup(body []byte) (Wakeup, error) {
	var w Wakeup
	if err := json.Unmarshal(body, &w); err != nil {
		return w, fmt.Errorf("wake-up: %w", describeJSONError(err))
	}
	if w.Version != WakeupVersion {
		return w, &FieldError{"wake-up", "v", fmt.Sprintf("is %d; this version of jobwatch reads %d", w.Version, WakeupVersion)}
	}
	if w.AppID == "" {
		return w, &FieldError{"wake-up", "appId", "is required"}
	}
	if w.BackendEnvironmentName == "" {
		return w, &FieldError{"wake-up", "backendEnvironmentName", "is required"}
	}
	return w, nil
}
