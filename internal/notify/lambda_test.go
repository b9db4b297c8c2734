package notify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// blockingSink holds every change until the context ends, like a sink
// whose service hangs.
type blockingSink struct{}

func (blockingSink) Name() string { return "hanging" }
func (blockingSink) Publish(ctx context.Context, changes []Change) []error {
	<-ctx.Done()
	errs := make([]error, len(changes))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return errs
}

// A hanging sink must not run the invocation into its timeout, which
// would redeliver the whole batch: the handler answers a second early,
// naming the undelivered messages.
func TestHandleSQSAnswersBeforeTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	log, _ := newLog()
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: messages(t, 1)[0].Body},
		{MessageId: "m2", Body: "{"},
	}}
	resp, err := New(log, blockingSink{}).HandleSQS(ctx, ev)
	if err != nil {
		t.Fatalf("HandleSQS: %v", err)
	}
	if left := time.Until(deadline); left < reserve/2 {
		t.Errorf("answered %v before the deadline, want about %v", left, reserve)
	}
	data, _ := json.Marshal(resp)
	if want := `{"batchItemFailures":[{"itemIdentifier":"m1"},{"itemIdentifier":"m2"}]}`; string(data) != want {
		t.Errorf("response = %s, want %s", data, want)
	}
}

func TestHandleSQSAllDelivered(t *testing.T) {
	for name, records := range map[string]int{"empty batch": 0, "three messages": 3} {
		t.Run(name, func(t *testing.T) {
			bus := &fakeBus{}
			log, logs := newLog()
			ev := events.SQSEvent{}
			for _, m := range messages(t, records) {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.ID, Body: m.Body})
			}
			resp, err := New(log, testSink(bus, log)).HandleSQS(t.Context(), ev)
			if err != nil {
				t.Fatalf("HandleSQS: %v", err)
			}
			data, _ := json.Marshal(resp)
			if want := `{"batchItemFailures":[]}`; string(data) != want {
				t.Errorf("response = %s, want %s", data, want)
			}
			if got := len(bus.sent()); got != records {
				t.Errorf("%d events, want %d", got, records)
			}
			if lines := logs.lines(t, "batch done"); len(lines) != 1 || lines[0]["messages"] != float64(records) {
				t.Errorf("batch done lines = %v", lines)
			}
		})
	}
}
