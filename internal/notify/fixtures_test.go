package notify

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// fixtures says, for every batch in events/notify, which messages notify
// must report for redelivery and what their log line must name.
var fixtures = map[string]struct {
	wantFailed  []string
	wantProblem string
}{
	"completed.json":             {},
	"failed.json":                {},
	"failed-untrusted-text.json": {},
	"timed-out.json":             {},
	"timed-out-no-job.json":      {},
	"lost.json":                  {},
	"still-running.json":         {},
	"several.json":               {},
	"bad-malformed-body.json":    {[]string{"bad00000-0000-4000-8000-000000000001"}, "not valid JSON"},
	"bad-missing-field.json":     {[]string{"bad00000-0000-4000-8000-000000000002"}, `field "operation" is required`},
	"bad-wrong-event-key.json": {[]string{"bad00000-0000-4000-8000-000000000003"},
		`field "eventKey" is "d1abc23/preview/8a0d2e77-1f3b-4c5d-b6e7-2a9c8d1e0f53/COMPLETED"`},
	"bad-unknown-version.json": {[]string{"bad00000-0000-4000-8000-000000000004"}, `field "version" is 2`},
	"bad-unknown-status.json":  {[]string{"bad00000-0000-4000-8000-000000000005"}, `field "status" is "CANCELLED"`},
	"bad-mixed.json":           {[]string{"bad00000-0000-4000-8000-000000000006"}, "not valid JSON"},
}

func TestFixtureFilesAreAllTested(t *testing.T) {
	entries, err := os.ReadDir(eventsDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, e := range entries {
		seen[e.Name()] = true
		if _, ok := fixtures[e.Name()]; !ok {
			t.Errorf("%s/%s is not in the fixtures table", eventsDir, e.Name())
		}
	}
	for name := range fixtures {
		if !seen[name] {
			t.Errorf("fixture %s is missing from %s", name, eventsDir)
		}
	}
}

// TestHandleSQSFixtures runs the Lambda handler on each batch with a bus
// that accepts everything: every valid message becomes one event carrying
// it, which matches the schema, and every bad one is reported and logged.
func TestHandleSQSFixtures(t *testing.T) {
	for name, tc := range fixtures {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "bad-") != (len(tc.wantFailed) > 0) {
				t.Fatalf("a bad-* batch must have failures, and only those")
			}
			ev := readBatch(t, name)
			bus := &fakeBus{}
			log, logs := newLog()
			resp, err := New(log, testSink(bus, log)).HandleSQS(t.Context(), ev)
			if err != nil {
				t.Fatalf("HandleSQS: %v", err)
			}
			failed := failures(resp)
			if !slices.Equal(failed, tc.wantFailed) {
				t.Errorf("batch item failures = %v, want %v", failed, tc.wantFailed)
			}

			// One event per valid message, in order, carrying the message.
			var want []string
			for _, r := range ev.Records {
				if !slices.Contains(tc.wantFailed, r.MessageId) {
					want = append(want, r.Body)
				}
			}
			var got []string
			for _, call := range bus.calls {
				for k, e := range call {
					got = append(got, aws.ToString(e.Detail))
					validateEvent(t, envelope(t, e, fmt.Sprintf("event-%d", k)))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d", len(got), len(want))
			}
			for i := range want {
				assertSameJSON(t, got[i], want[i])
			}

			lines := logs.lines(t, "malformed completion message; it goes to the dead-letter queue")
			if len(lines) != len(tc.wantFailed) {
				t.Fatalf("%d malformed lines, want %d", len(lines), len(tc.wantFailed))
			}
			for i, l := range lines {
				if l["messageId"] != tc.wantFailed[i] || !strings.Contains(l["error"].(string), tc.wantProblem) {
					t.Errorf("malformed line = %v, want messageId %s and %q", l, tc.wantFailed[i], tc.wantProblem)
				}
			}
			for _, l := range logs.lines(t, "status change published") {
				if l["appId"] == nil || l["backendEnvironmentName"] == nil || l["eventKey"] == nil {
					t.Errorf("published line lacks the job: %v", l)
				}
			}
		})
	}
}

// assertSameJSON compares two JSON objects field by field.
func assertSameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	for k, wv := range w {
		if gv, ok := g[k]; !ok || !jsonEqual(gv, wv) {
			t.Errorf("field %s = %v, want %v", k, g[k], wv)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("unexpected field %s = %v", k, g[k])
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
