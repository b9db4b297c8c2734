package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/queue"
)

func TestNotifyBatchesOfTen(t *testing.T) {
	for name, tc := range map[string]struct {
		messages  int
		wantCalls []int // entries per PutEvents call
	}{
		"one":          {1, []int{1}},
		"ten":          {10, []int{10}},
		"eleven":       {11, []int{10, 1}},
		"twenty-three": {23, []int{10, 10, 3}},
	} {
		t.Run(name, func(t *testing.T) {
			bus := &fakeBus{}
			log, _ := newLog()
			msgs := messages(t, tc.messages)
			if failed := New(log, testSink(bus, log)).Notify(t.Context(), msgs); len(failed) != 0 {
				t.Errorf("failed = %v, want none", failed)
			}
			var got []int
			for _, call := range bus.calls {
				got = append(got, len(call))
			}
			if !slices.Equal(got, tc.wantCalls) {
				t.Errorf("entries per call = %v, want %v", got, tc.wantCalls)
			}
			sent := bus.sent()
			for i := range msgs {
				if key := change(i+1, contract.StatusCompleted).EventKey; sent[key] != 1 {
					t.Errorf("%s sent %d times, want once", key, sent[key])
				}
			}
		})
	}
}

func TestNotifyResendsOnlyFailedEntries(t *testing.T) {
	key := func(n int) string { return change(n, contract.StatusCompleted).EventKey }
	for name, tc := range map[string]struct {
		fail       map[int]int // message number → failures (-1: always)
		code       string
		callErrAt  int
		wantFailed []string
		wantSent   map[int]int // message number → times sent; others once
		wantCalls  int
	}{
		"throttled once, then accepted": {
			fail: map[int]int{3: 1, 14: 1, 23: 1}, code: "ThrottlingException",
			wantSent: map[int]int{3: 2, 14: 2, 23: 2}, wantCalls: 4,
		},
		"internal failure twice, accepted on the third attempt": {
			fail: map[int]int{7: 2}, code: "InternalFailure",
			wantSent: map[int]int{7: 3}, wantCalls: 5,
		},
		"internal failure always: reported after 3 attempts": {
			fail: map[int]int{2: -1, 15: -1}, code: "InternalFailure",
			wantFailed: []string{"msg-2", "msg-15"},
			wantSent:   map[int]int{2: 3, 15: 3}, wantCalls: 5,
		},
		"refused entry is not resent": {
			fail: map[int]int{5: -1}, code: "InvalidArgument",
			wantFailed: []string{"msg-5"}, wantCalls: 3,
		},
		"call error fails only that call's messages": {
			callErrAt: 2,
			wantFailed: []string{"msg-11", "msg-12", "msg-13", "msg-14", "msg-15",
				"msg-16", "msg-17", "msg-18", "msg-19", "msg-20"},
			wantCalls: 3,
		},
	} {
		t.Run(name, func(t *testing.T) {
			bus := &fakeBus{fail: map[string]int{}, code: tc.code, callErrAt: tc.callErrAt}
			if tc.callErrAt > 0 {
				bus.callErr = errors.New("connection reset")
			}
			for n, times := range tc.fail {
				bus.fail[key(n)] = times
			}
			log, logs := newLog()
			failed := New(log, testSink(bus, log)).Notify(t.Context(), messages(t, 23))
			if !slices.Equal(failed, tc.wantFailed) {
				t.Errorf("failed = %v, want %v", failed, tc.wantFailed)
			}
			sent := bus.sent()
			for n := 1; n <= 23; n++ {
				want := 1
				if w, ok := tc.wantSent[n]; ok {
					want = w
				}
				if sent[key(n)] != want {
					t.Errorf("message %d sent %d times, want %d", n, sent[key(n)], want)
				}
			}
			if len(bus.calls) != tc.wantCalls {
				t.Errorf("%d PutEvents calls, want %d", len(bus.calls), tc.wantCalls)
			}
			lines := logs.lines(t, "status change not delivered; the message will be redelivered")
			var logged []string
			for _, l := range lines {
				logged = append(logged, l["messageId"].(string))
				if l["sink"] != "eventbridge" || l["jobId"] == nil || l["appId"] != "d1abc23" {
					t.Errorf("failure line lacks sink or job: %v", l)
				}
				if tc.code != "" && !strings.Contains(l["error"].(string), tc.code) {
					t.Errorf("failure line does not name %s: %v", tc.code, l["error"])
				}
			}
			if !slices.Equal(logged, tc.wantFailed) {
				t.Errorf("failure lines for %v, want %v", logged, tc.wantFailed)
			}
			if got := len(logs.lines(t, "status change published")); got != 23-len(tc.wantFailed) {
				t.Errorf("%d published lines, want %d", got, 23-len(tc.wantFailed))
			}
		})
	}
}

// A cancelled context stops the resends: the entries still failing are
// reported, the accepted ones are not.
func TestNotifyStopsResendingWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	bus := &fakeBus{fail: map[string]int{change(4, contract.StatusCompleted).EventKey: -1}, code: "ThrottlingException"}
	log, _ := newLog()
	// The deadline passes during the first call.
	sink := NewEventBridge(afterPutter{bus, cancel}, EventBridgeOptions{BusName: testBus, Source: contract.DefaultEventSource, Region: "us-east-1", Account: "123456789012", Logger: log})
	failed := New(log, sink).Notify(ctx, messages(t, 5))
	if want := []string{"msg-4"}; !slices.Equal(failed, want) {
		t.Errorf("failed = %v, want %v", failed, want)
	}
	if len(bus.calls) != 1 {
		t.Errorf("%d PutEvents calls, want 1", len(bus.calls))
	}
}

func TestNotifySplitsAt256KB(t *testing.T) {
	big := func(n, size int) queue.Message {
		s := change(n, contract.StatusFailed)
		s.Error = strings.Repeat("x", size)
		return message(t, fmt.Sprintf("msg-%d", n), s)
	}
	for name, tc := range map[string]struct {
		msgs       []queue.Message
		wantCalls  []int
		wantFailed []string
	}{
		"five of 100 KB: 2+2+1": {
			msgs:      []queue.Message{big(1, 100_000), big(2, 100_000), big(3, 100_000), big(4, 100_000), big(5, 100_000)},
			wantCalls: []int{2, 2, 1},
		},
		"small ones fill up to the limit": {
			msgs:      []queue.Message{big(1, 200_000), big(2, 50_000), big(3, 10), big(4, 10), big(5, 60_000)},
			wantCalls: []int{4, 1},
		},
		"an event over 256 KB fails alone, unsent": {
			msgs:       []queue.Message{big(1, 10), big(2, 300_000), big(3, 10)},
			wantCalls:  []int{2},
			wantFailed: []string{"msg-2"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			bus := &fakeBus{}
			log, logs := newLog()
			failed := New(log, testSink(bus, log)).Notify(t.Context(), tc.msgs)
			if !slices.Equal(failed, tc.wantFailed) {
				t.Errorf("failed = %v, want %v", failed, tc.wantFailed)
			}
			var got []int
			for _, call := range bus.calls {
				got = append(got, len(call))
			}
			if !slices.Equal(got, tc.wantCalls) {
				t.Errorf("entries per call = %v, want %v", got, tc.wantCalls)
			}
			for _, l := range logs.lines(t, "status change not delivered; the message will be redelivered") {
				if !strings.Contains(l["error"].(string), "PutEvents takes at most 262144") {
					t.Errorf("failure line does not explain the size: %v", l["error"])
				}
			}
		})
	}
}

// afterPutter passes calls on to next, then runs after.
type afterPutter struct {
	next  eventPutter
	after func()
}

func (p afterPutter) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	defer p.after()
	return p.next.PutEvents(ctx, in, opts...)
}

// sinkFunc is a Sink made of a function.
type sinkFunc struct {
	name    string
	publish func([]Change) []error
}

func (s sinkFunc) Name() string { return s.name }
func (s sinkFunc) Publish(_ context.Context, changes []Change) []error {
	return s.publish(changes)
}

// failMessages returns a sink failing the changes of the given messages.
func failMessages(name string, ids ...string) Sink {
	return sinkFunc{name, func(changes []Change) []error {
		errs := make([]error, len(changes))
		for i, c := range changes {
			if slices.Contains(ids, c.MessageID) {
				errs[i] = fmt.Errorf("%s refused %s", name, c.EventKey)
			}
		}
		return errs
	}}
}

func TestNotifyFailsAMessageIfAnySinkFailedIt(t *testing.T) {
	for name, tc := range map[string]struct {
		sinks      []Sink
		wantFailed []string
	}{
		"all deliver": {
			sinks: []Sink{failMessages("sns"), failMessages("slack")},
		},
		"one sink fails one message": {
			sinks:      []Sink{failMessages("sns"), failMessages("slack", "msg-2")},
			wantFailed: []string{"msg-2"},
		},
		"two sinks fail different messages": {
			sinks:      []Sink{failMessages("sns", "msg-3"), failMessages("slack", "msg-1", "msg-3")},
			wantFailed: []string{"msg-1", "msg-3"},
		},
		"a sink answering the wrong number of results fails all": {
			sinks:      []Sink{failMessages("sns"), sinkFunc{"broken", func([]Change) []error { return nil }}},
			wantFailed: []string{"msg-1", "msg-2", "msg-3"},
		},
		"no sinks": {},
	} {
		t.Run(name, func(t *testing.T) {
			log, logs := newLog()
			failed := New(log, tc.sinks...).Notify(t.Context(), messages(t, 3))
			if !slices.Equal(failed, tc.wantFailed) {
				t.Errorf("failed = %v, want %v", failed, tc.wantFailed)
			}
			for _, l := range logs.lines(t, "status change not delivered; the message will be redelivered") {
				if l["sink"] == nil || l["eventKey"] == nil || l["jobId"] == nil {
					t.Errorf("failure line lacks sink, eventKey or job: %v", l)
				}
			}
		})
	}
}

func TestNotifyMalformedMessages(t *testing.T) {
	good := change(1, contract.StatusCompleted)
	missingOp := change(2, contract.StatusFailed)
	missingOp.Operation = ""
	wrongKey := change(3, contract.StatusFailed)
	wrongKey.EventKey = change(3, contract.StatusCompleted).EventKey
	unknown := change(4, "CANCELLED")
	for name, tc := range map[string]struct {
		msg       queue.Message
		wantError string // in the log line's error
	}{
		"not JSON":       {queue.Message{ID: "m-bad", Body: "{"}, "not valid JSON"},
		"empty body":     {queue.Message{ID: "m-bad", Body: ""}, "status change"},
		"wrong type":     {queue.Message{ID: "m-bad", Body: `{"version":"1"}`}, `field "version"`},
		"missing field":  {message(t, "m-bad", missingOp), `field "operation" is required`},
		"wrong eventKey": {message(t, "m-bad", wrongKey), `field "eventKey"`},
		"unknown status": {message(t, "m-bad", unknown), `field "status" is "CANCELLED"`},
	} {
		t.Run(name, func(t *testing.T) {
			bus := &fakeBus{}
			log, logs := newLog()
			msgs := []queue.Message{message(t, "m-good", good), tc.msg}
			failed := New(log, testSink(bus, log)).Notify(t.Context(), msgs)
			if want := []string{"m-bad"}; !slices.Equal(failed, want) {
				t.Errorf("failed = %v, want %v", failed, want)
			}
			if sent := bus.sent(); len(sent) != 1 || sent[good.EventKey] != 1 {
				t.Errorf("sent %v, want only the good message's event", sent)
			}
			lines := logs.lines(t, "malformed completion message; it goes to the dead-letter queue")
			if len(lines) != 1 {
				t.Fatalf("%d malformed lines, want 1", len(lines))
			}
			if lines[0]["messageId"] != "m-bad" || lines[0]["level"] != "ERROR" ||
				!strings.Contains(lines[0]["error"].(string), tc.wantError) {
				t.Errorf("malformed line = %v, want messageId m-bad and an error naming %q", lines[0], tc.wantError)
			}
		})
	}
}

func TestEventBridgeEntry(t *testing.T) {
	for name, tc := range map[string]struct {
		change       contract.StatusChange
		wantResource string
	}{
		"job": {
			change(9, contract.StatusCompleted),
			"arn:aws:amplifybackend:eu-west-1:210987654321:/backend/d1abc23/job/00000000-0000-4000-8000-000000000009",
		},
		"request that never got a job": {
			noJob(1),
			"arn:aws:amplifybackend:eu-west-1:210987654321:/backend/d1abc23/environments/dev",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewEventBridge(&fakeBus{}, EventBridgeOptions{
				BusName: "arn:aws:events:eu-west-1:210987654321:event-bus/ops", Source: "acme.jobs",
				Region: "eu-west-1", Account: "210987654321",
			})
			e, err := s.entry(0, Change{MessageID: "m", StatusChange: tc.change})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(e.EventBusName); got != "arn:aws:events:eu-west-1:210987654321:event-bus/ops" {
				t.Errorf("EventBusName = %q", got)
			}
			if got := aws.ToString(e.Source); got != "acme.jobs" {
				t.Errorf("Source = %q", got)
			}
			if got := aws.ToString(e.DetailType); got != "Amplify Backend Job Status Change" {
				t.Errorf("DetailType = %q", got)
			}
			if !slices.Equal(e.Resources, []string{tc.wantResource}) {
				t.Errorf("Resources = %v, want [%s]", e.Resources, tc.wantResource)
			}
			if e.Time != nil {
				t.Errorf("Time = %v, want unset (EventBridge stamps the call's time)", e.Time)
			}
			got, err := contract.DecodeStatusChange([]byte(aws.ToString(e.Detail)))
			if err != nil {
				t.Fatalf("Detail does not decode: %v", err)
			}
			if got != tc.change {
				t.Errorf("Detail = %+v, want %+v", got, tc.change)
			}
			validateEvent(t, envelope(t, e, "id-1"))
		})
	}
}

// Publish's errors let a caller tell EventBridge's verdict, a failed call
// and a deadline apart.
func TestEventBridgePublishErrors(t *testing.T) {
	errDown := errors.New("connection refused")
	for name, tc := range map[string]struct {
		bus      *fakeBus
		cancel   bool
		wantCode string
		wantIs   error
		wantText string
	}{
		"refused entry": {
			bus:      &fakeBus{code: "InvalidArgument"},
			wantCode: "InvalidArgument", wantText: "put event d1abc23/dev/00000000-0000-4000-8000-000000000001/COMPLETED on bus jobwatch-test: InvalidArgument: fake failure",
		},
		"failing on every attempt": {
			bus:      &fakeBus{code: "InternalFailure"},
			wantCode: "InternalFailure", wantText: "(after 3 attempts)",
		},
		"call error": {
			bus:    &fakeBus{callErr: errDown, callErrAt: 1},
			wantIs: errDown, wantText: "on bus jobwatch-test: connection refused",
		},
		"context ends before the resend": {
			bus: &fakeBus{code: "ThrottlingException"}, cancel: true,
			wantCode: "ThrottlingException", wantIs: context.Canceled, wantText: "(not resent: context canceled)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tc.bus.fail = map[string]int{change(1, contract.StatusCompleted).EventKey: -1}
			var putter eventPutter = tc.bus
			if tc.cancel {
				putter = afterPutter{tc.bus, cancel}
			}
			errs := testSink(putter, nil).Publish(ctx, []Change{{MessageID: "m1", StatusChange: change(1, contract.StatusCompleted)}})
			if len(errs) != 1 || errs[0] == nil {
				t.Fatalf("errs = %v, want one error", errs)
			}
			err := errs[0]
			var ee *EntryError
			if tc.wantCode != "" && (!errors.As(err, &ee) || ee.Code != tc.wantCode) {
				t.Errorf("error %v is not EventBridge's %s", err, tc.wantCode)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
		})
	}
}
