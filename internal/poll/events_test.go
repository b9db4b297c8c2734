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
// good SQS batches are all re-queued (their jobs are running), every
// record of a bad-*.json batch is reported failed with a log line naming
// it, a CloudFormation stack event is taken as a hint, and a payload that
// is neither is an error naming what poll takes.
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
			var probe struct {
				Records    []events.SQSMessage `json:"Records"`
				DetailType string              `json:"detail-type"`
			}
			if err := json.Unmarshal(raw, &probe); err != nil {
				t.Fatalf("%s is not JSON: %v", name, err)
			}
			h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
			h.p.cfg.AppIDs = []string{"d1abc23"}
			for _, r := range probe.Records {
				if m, err := contract.DecodeTrackingMessage([]byte(r.Body)); err == nil {
					h.api.jobs[m.JobID] = jobState{Status: "RUNNING", Operation: m.Operation}
				}
			}
			out, err := h.p.HandleLambda(context.Background(), raw)
			bad := strings.HasPrefix(name, "bad-")
			switch {
			case probe.DetailType == DetailTypeStackStatus:
				// Without the state table a hint cannot know the jobs of
				// the environment: it says so (tested with moto below).
				hr, _ := out.(HintResult)
				if err == nil || !strings.Contains(err.Error(), "STATE_TABLE") || hr.Environment != "dev" {
					t.Errorf("hint without a table: %+v, %v", out, err)
				}
			case probe.Records == nil:
				if !bad || err == nil || !strings.Contains(err.Error(), "poll takes an SQS event") {
					t.Errorf("out %v, err %v; want an error naming what poll takes", out, err)
				}
			case bad:
				resp := out.(events.SQSEventResponse)
				if err != nil || len(resp.BatchItemFailures) != len(probe.Records) {
					t.Errorf("failures = %v, %v; want all %d records", resp.BatchItemFailures, err, len(probe.Records))
				}
				for _, r := range probe.Records {
					if !strings.Contains(h.logs.String(), r.MessageId) {
						t.Errorf("no log line names %s", r.MessageId)
					}
				}
			default:
				resp := out.(events.SQSEventResponse)
				if err != nil || len(resp.BatchItemFailures) != 0 {
					t.Errorf("failures = %v, %v", resp.BatchItemFailures, err)
				}
				if got := len(h.requeued(t)); got != len(probe.Records) {
					t.Errorf("re-queued %d of %d", got, len(probe.Records))
				}
			}
		})
	}
}
