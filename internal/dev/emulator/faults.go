package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
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
	// GatewayTimeoutException.
	ErrorRate float64
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

// Validate reports the first fault setting out of range, by its JSON name.
func (f Faults) Validate() error {
	rates := []struct {
		name string
		v    float64
	}{{"failRate", f.FailRate}, {"stuckRate", f.StuckRate}, {"throttleRate", f.ThrottleRate}, {"errorRate", f.ErrorRate}}
	for _, r := range rates {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("%s must be from 0 to 1, got %v", r.name, r.v)
		}
	}
	if f.FailRate+f.StuckRate > 1 {
		return fmt.Errorf("failRate + stuckRate must not exceed 1, got %v", f.FailRate+f.StuckRate)
	}
	if f.NotFoundWindow < 0 {
		return fmt.Errorf("notFoundWindow must not be negative, got %v", f.NotFoundWindow)
	}
	if f.Latency < 0 {
		return fmt.Errorf("latency must not be negative, got %v", f.Latency)
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

// faultsJSON is Faults on the wire: durations as Go duration strings
// ("1.5s"), every member optional so that a POST changes only what it names.
type faultsJSON struct {
	FailRate         *float64 `json:"failRate,omitempty"`
	StuckRate        *float64 `json:"stuckRate,omitempty"`
	FailOperations   []string `json:"failOperations,omitempty"`
	ThrottleRate     *float64 `json:"throttleRate,omitempty"`
	ErrorRate        *float64 `json:"errorRate,omitempty"`
	NotFoundWindow   *string  `json:"notFoundWindow,omitempty"`
	Latency          *string  `json:"latency,omitempty"`
	PendingErrorCode *string  `json:"pendingErrorCode,omitempty"`
}

// MarshalJSON writes every setting, durations as strings like "1.5s".
func (f Faults) MarshalJSON() ([]byte, error) {
	nf, lat, code := f.NotFoundWindow.String(), f.Latency.String(), f.pendingCode()
	return json.Marshal(faultsJSON{
		FailRate: &f.FailRate, StuckRate: &f.StuckRate, FailOperations: f.FailOperations, ThrottleRate: &f.ThrottleRate, ErrorRate: &f.ErrorRate,
		NotFoundWindow: &nf, Latency: &lat, PendingErrorCode: &code,
	})
}

// UnmarshalJSON changes the settings the JSON object names and leaves the
// others; unknown names are an error.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	set := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.FailRate, j.FailRate)
	set(&f.StuckRate, j.StuckRate)
	set(&f.ThrottleRate, j.ThrottleRate)
	set(&f.ErrorRate, j.ErrorRate)
	durations := []struct {
		name string
		dst  *time.Duration
		src  *string
	}{{"notFoundWindow", &f.NotFoundWindow, j.NotFoundWindow}, {"latency", &f.Latency, j.Latency}}
	for _, d := range durations {
		if d.src == nil {
			continue
		}
		v, err := time.ParseDuration(*d.src)
		if err != nil {
			return fmt.Errorf("%s: want a duration like \"1.5s\": %w", d.name, err)
		}
		*d.dst = v
	}
	if j.FailOperations != nil {
		f.FailOperations = j.FailOperations
	}
	if j.PendingErrorCode != nil {
		f.PendingErrorCode = *j.PendingErrorCode
	}
	return nil
}
