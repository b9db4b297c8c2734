package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// Pending-job error codes: the service answers a second job on a busy
// environment with BadRequestException, but ValidationException has been
// seen too.
const (
	PendingBadRequest = "BadRequestException"
	PendingValidation = "ValidationException"
)

// DefaultLostAnswerDelay is how long a lost answer takes when
// Faults.LostAnswerDelay is zero: about what a gateway waits before it
// gives up on a slow backend, kept short so tests stay fast.
const DefaultLostAnswerDelay = 250 * time.Millisecond

// Faults are the ways the emulator misbehaves like the service. They can
// change while it runs (Emulator.SetFaults, POST /_emulator/faults).
type Faults struct {
	// FailRate is the share of new jobs that end FAILED with an Error.
	FailRate float64
	// StuckRate is the share of new jobs that stay RUNNING for ever.
	StuckRate float64
	// FailOperations lists operations whose new jobs always end FAILED
	// (unless stuck), for demos and tests that need a failure on cue.
	FailOperations []string
	// ThrottleRate is the share of Admin API requests answered 429
	// TooManyRequestsException.
	ThrottleRate float64
	// ErrorRate is the share of Admin API requests answered 504
	// GatewayTimeoutException before the operation runs.
	ErrorRate float64
	// LostAnswerRate is the share of accepted job-starting calls whose
	// answer is lost after the service acted: the job starts (it holds
	// its environment, GetBackendJob and ListBackendJobs show it) but the
	// caller gets 504 GatewayTimeoutException instead of the job id.
	LostAnswerRate float64
	// LostAnswerDelay is how long a lost answer takes to come;
	// DefaultLostAnswerDelay when zero.
	LostAnswerDelay time.Duration
	// OutageAfter and OutageFor schedule an outage on the emulator's
	// Clock: from OutageAfter after the faults are set (New, SetFaults,
	// POST /_emulator/faults), for OutageFor, every Admin API request is
	// answered 503 ServiceUnavailableException or has its connection
	// dropped. Jobs go on running: the service is unreachable, not
	// stopped. OutageFor zero means no outage. Emulator.Faults reports
	// them from the moment it is called: during an outage OutageAfter is
	// zero and OutageFor what is left of it.
	OutageAfter, OutageFor time.Duration
	// OutageDropRate is the share of requests during an outage whose
	// connection is reset without an answer instead of answered 503.
	OutageDropRate float64
	// NotFoundWindow is how long after its creation GetBackendJob answers
	// NotFoundException for a job: the service's eventual consistency.
	NotFoundWindow time.Duration
	// Latency delays every Admin API response.
	Latency time.Duration
	// PendingErrorCode is the error code refusing a second job on a busy
	// environment: PendingBadRequest (the default when empty) or
	// PendingValidation.
	PendingErrorCode string
}

// rateSetting and durationSetting are a setting by its JSON name, for
// the checks and the JSON form to treat alike.
type (
	rateSetting struct {
		name string
		v    *float64
	}
	durationSetting struct {
		name string
		v    *time.Duration
	}
)

func (f *Faults) rates() []rateSetting {
	return []rateSetting{{"failRate", &f.FailRate}, {"stuckRate", &f.StuckRate}, {"throttleRate", &f.ThrottleRate},
		{"errorRate", &f.ErrorRate}, {"lostAnswerRate", &f.LostAnswerRate}, {"outageDropRate", &f.OutageDropRate}}
}

func (f *Faults) durations() []durationSetting {
	return []durationSetting{{"notFoundWindow", &f.NotFoundWindow}, {"latency", &f.Latency},
		{"lostAnswerDelay", &f.LostAnswerDelay}, {"outageAfter", &f.OutageAfter}, {"outageFor", &f.OutageFor}}
}

// Validate reports the first fault setting out of range, by its JSON name.
func (f Faults) Validate() error {
	for _, r := range f.rates() {
		if math.IsNaN(*r.v) || *r.v < 0 || *r.v > 1 {
			return fmt.Errorf("%s must be from 0 to 1, got %v", r.name, *r.v)
		}
	}
	if f.FailRate+f.StuckRate > 1 {
		return fmt.Errorf("failRate + stuckRate must not exceed 1, got %v", f.FailRate+f.StuckRate)
	}
	for _, d := range f.durations() {
		if *d.v < 0 {
			return fmt.Errorf("%s must not be negative, got %v", d.name, *d.v)
		}
	}
	for _, op := range f.FailOperations {
		if o, err := amplify.LookupOperation(op); err != nil || !o.StartsJob {
			return fmt.Errorf("failOperations: %q is not an operation that starts a job", op)
		}
	}
	switch f.PendingErrorCode {
	case "", PendingBadRequest, PendingValidation:
	default:
		return fmt.Errorf("pendingErrorCode must be %s or %s, got %q", PendingBadRequest, PendingValidation, f.PendingErrorCode)
	}
	return nil
}

func (f Faults) pendingCode() string {
	if f.PendingErrorCode == "" {
		return PendingBadRequest
	}
	return f.PendingErrorCode
}

func (f Faults) lostAnswerDelay() time.Duration {
	if f.LostAnswerDelay == 0 {
		return DefaultLostAnswerDelay
	}
	return f.LostAnswerDelay
}

// MarshalJSON writes every setting, durations as strings like "1.5s",
// defaults filled in.
func (f Faults) MarshalJSON() ([]byte, error) {
	m := map[string]any{"pendingErrorCode": f.pendingCode()}
	if len(f.FailOperations) > 0 {
		m["failOperations"] = f.FailOperations
	}
	f.LostAnswerDelay = f.lostAnswerDelay()
	for _, r := range f.rates() {
		m[r.name] = *r.v
	}
	for _, d := range f.durations() {
		m[d.name] = d.v.String()
	}
	return json.Marshal(m)
}

// UnmarshalJSON changes the settings the JSON object names and leaves the
// others; unknown names are an error. Durations are strings like "1.5s".
// outageFor without outageAfter starts the outage now: {"outageFor":"60s"}
// is an outage from now for 60 s, {"outageFor":"0s"} ends one.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	targets := map[string]any{"failOperations": &f.FailOperations, "pendingErrorCode": &f.PendingErrorCode}
	for _, r := range f.rates() {
		targets[r.name] = r.v
	}
	durations := map[string]*time.Duration{}
	for _, d := range f.durations() {
		durations[d.name] = d.v
	}
	_, after := fields["outageAfter"]
	if _, length := fields["outageFor"]; length && !after {
		f.OutageAfter = 0
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		if d, ok := durations[name]; ok {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("%s: want a duration like \"1.5s\"", name)
			}
			v, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%s: want a duration like \"1.5s\": %w", name, err)
			}
			*d = v
			continue
		}
		target, ok := targets[name]
		if !ok {
			return fmt.Errorf("unknown field %q", name)
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
