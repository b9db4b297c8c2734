package contract

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTrackingSeq checks the chain step a tracking message carries: a
// message written before the field existed (or by submit and the sweep,
// which start chains) is step 0, a later step round-trips, and a
// negative one is refused naming the field. A reader of version 1 that
// predates the field ignores it: it is optional, and the version stays.
func TestTrackingSeq(t *testing.T) {
	const base = `{"v":1,"appId":"d1","backendEnvironmentName":"dev","jobId":"j","operation":"CloneBackend",` +
		`"submittedAt":"2026-11-25T12:00:00Z","deadline":"2026-11-25T18:00:00Z","polls":2`
	tests := map[string]struct {
		body      string
		seq       int
		seqID     string
		wantField string
	}{
		"without a step: the first": {body: base + `}`},
		"a later step":              {body: base + `,"seq":7,"seqId":"a1b2"}`, seq: 7, seqID: "a1b2"},
		"a negative step":           {body: base + `,"seq":-1}`, wantField: "seq"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := DecodeTrackingMessage([]byte(tc.body))
			if tc.wantField != "" {
				if fe, ok := err.(*FieldError); !ok || fe.Field != tc.wantField {
					t.Fatalf("err = %v, want a FieldError naming %s", err, tc.wantField)
				}
				return
			}
			if err != nil || m.Seq != tc.seq || m.SeqID != tc.seqID || m.Version != TrackingVersion {
				t.Fatalf("decoded %+v, %v; want step %d %q at version %d", m, err, tc.seq, tc.seqID, TrackingVersion)
			}
			out, _ := json.Marshal(m)
			if again, err := DecodeTrackingMessage(out); err != nil || again.Seq != m.Seq || again.SeqID != m.SeqID {
				t.Errorf("round trip: %+v, %v", again, err)
			}
			if (m.Seq == 0) == strings.Contains(string(out), `"seq"`) {
				t.Errorf("encoded %s: step 0 is written as no step, others as seq", out)
			}
		})
	}
}
