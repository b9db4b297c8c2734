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

	"github.com/jobwatch/jobwatch/internal/schedule"
)

// FuzzHandleLambda feeds poll's handler arbitrary payloads, seeded from
// events/poll: it must never panic, must account for every SQS record
// (re-queued, announced, dropped or reported failed), and must name what
// it refuses.
func FuzzHandleLambda(f *testing.F) {
	files, _ := filepath.Glob("../../events/poll/*.json")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
		h.p.cfg.AppIDs = []string{"d1abc23"}
		out, err := h.p.HandleLambda(context.Background(), json.RawMessage(payload))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		resp, ok := out.(events.SQSEventResponse)
		if !ok {
			return // a hint's answer
		}
		var ev events.SQSEvent
		_ = json.Unmarshal(payload, &ev)
		if len(resp.BatchItemFailures) > len(ev.Records) {
			t.Fatalf("%d failures for %d records", len(resp.BatchItemFailures), len(ev.Records))
		}
		for _, f := range resp.BatchItemFailures {
			if strings.TrimSpace(f.ItemIdentifier) == "" && len(ev.Records) > 0 && ev.Records[0].MessageId != "" {
				t.Fatalf("failure without an id: %+v", resp)
			}
		}
	})
}
