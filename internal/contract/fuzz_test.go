package contract

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFrom adds to f the bodies of the sample events of events/<dir>:
// the detail of EventBridge events, the payload of direct invocations and
// the body of every SQS record.
func seedFrom(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("../../events", dir, "*.json"))
	if len(files) == 0 {
		f.Fatalf("no sample events in events/%s", dir)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		var ev struct {
			Detail  json.RawMessage `json:"detail"`
			Records []struct {
				Body string `json:"body"`
			} `json:"Records"`
		}
		if json.Unmarshal(raw, &ev) == nil {
			if len(ev.Detail) > 0 {
				f.Add([]byte(ev.Detail))
			}
			for _, r := range ev.Records {
				f.Add([]byte(r.Body))
			}
		}
	}
}

// namesTheProblem checks a rejection says which field is wrong, or that
// the input is not JSON at all.
func namesTheProblem(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	msg := err.Error()
	if errors.As(err, &fe) && fe.Field != "" {
		return
	}
	if strings.Contains(msg, "field") || strings.Contains(msg, "not valid JSON") || strings.Contains(msg, "want a JSON object") {
		return
	}
	t.Errorf("rejection names no field: %v", err)
}

func FuzzDecodeJobRequest(f *testing.F) {
	seedFrom(f, "submit")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeJobRequest(data)
		if err != nil {
			namesTheProblem(t, err)
			return
		}
		if r.Operation == "" || len(r.Input) == 0 {
			t.Errorf("accepted a request without operation or input: %+v", r)
		}
	})
}

func FuzzDecodeTrackingMessage(f *testing.F) {
	seedFrom(f, "poll")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeTrackingMessage(data)
		if err != nil {
			namesTheProblem(t, err)
			return
		}
		if m.JobID == "" || m.AppID == "" || m.Deadline.IsZero() {
			t.Errorf("accepted an incomplete tracking message: %+v", m)
		}
	})
}

func FuzzDecodeStatusChange(f *testing.F) {
	seedFrom(f, "notify")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeStatusChange(data)
		if err != nil {
			namesTheProblem(t, err)
			return
		}
		if s.EventKey != EventKey(s.AppID, s.BackendEnvironmentName, s.JobID, s.RequestID, s.Status) {
			t.Errorf("accepted a wrong eventKey: %+v", s)
		}
	})
}

func FuzzDecodeWakeup(f *testing.F) {
	seedFrom(f, "submit")
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := DecodeWakeup(data)
		if err != nil {
			namesTheProblem(t, err)
			return
		}
		if w.AppID == "" || w.BackendEnvironmentName == "" {
			t.Errorf("accepted an incomplete wake-up: %+v", w)
		}
	})
}
