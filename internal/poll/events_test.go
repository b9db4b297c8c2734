package poll

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// TestSampleEvents runs the Lambda handler on every sample in events/poll:
// good batches are all re-queued (their jobs are running), every record of
// a bad-*.json batch is reported failed with a log line naming it.
func TestSampleEvents(t *testing.T) {
	files, err := filepath.Glob("../../events/poll/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("%s is not an SQS event: %v", name, err)
			}
			h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
			for _, r := range ev.Records {
				if m, err := contract.DecodeTrackingMessage([]byte(r.Body)); err == nil {
					h.api.jobs[m.JobID] = jobState{Status: "RUNNING", Operation: m.Operation}
				}
			}
			resp, err := h.p.HandleSQS(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			bad := strings.HasPrefix(name, "bad-")
			if bad {
				if len(resp.BatchItemFailures) != len(ev.Records) {
					t.Errorf("failures = %v, want all %d records", resp.BatchItemFailures, len(ev.Records))
				}
				for _, r := range ev.Records {
					if !strings.Contains(h.logs.String(), r.MessageId) {
						t.Errorf("no log line names %s", r.MessageId)
					}
				}
				return
			}
			if len(resp.BatchItemFailures) != 0 {
				t.Errorf("failures = %v", resp.BatchItemFailures)
			}
			if got := len(h.requeued(t)); got != len(ev.Records) {
				t.Errorf("re-queued %d of %d", got, len(ev.Records))
			}
		})
	}
}
