package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	eventsDir  = "../../events/notify"
	schemaFile = "../../schemas/status-change.schema.json"
	testBus    = "jobwatch-test"
)

// change returns a valid status change for job n of app d1abc23.
func change(n int, status string) contract.StatusChange {
	jobID := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	return contract.StatusChange{
		Version: 1, AppID: "d1abc23", BackendEnvironmentName: "dev", JobID: jobID,
		Operation: "CloneBackend", Status: status, PreviousStatus: "RUNNING",
		SubmittedAt: "2026-03-02T10:00:00.000Z", DetectedAt: "2026-03-02T10:05:00.000Z",
		DurationSeconds: 300, Polls: 5,
		EventKey: contract.EventKey("d1abc23", "dev", jobID, "", status),
	}
}

// noJob returns the TIMED_OUT change of request nightly-7, which never
// got a job (the Admin API kept refusing it), so was never polled.
func noJob(n int) contract.StatusChange {
	c := change(n, contract.StatusTimedOut)
	c.JobID, c.RequestID, c.Polls = "", "nightly-7", 0
	c.EventKey = contract.EventKey(c.AppID, c.BackendEnvironmentName, "", c.RequestID, c.Status)
	return c
}

// assertContains fails for each of wants that text, which what names,
// lacks.
func assertContains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

// messages returns n completion messages with ids msg-1 … msg-n.
func messages(t *testing.T, n int) []queue.Message {
	t.Helper()
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = message(t, fmt.Sprintf("msg-%d", i+1), change(i+1, contract.StatusCompleted))
	}
	return msgs
}

func message(t *testing.T, id string, s contract.StatusChange) queue.Message {
	t.Helper()
	body, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return queue.Message{ID: id, Body: string(body)}
}

// fakeBus stands in for EventBridge: it checks PutEvents' limits, records
// each call and fails the entries its plan names.
type fakeBus struct {
	mu    sync.Mutex
	calls [][]types.PutEventsRequestEntry
	// fail maps an event key to how many more times its entry fails
	// (-1: always) with code.
	fail map[string]int
	code string
	// callErr, when set, answers call number callErrAt (1-based).
	callErr   error
	callErrAt int
}

func (b *fakeBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, in.Entries)
	if len(in.Entries) == 0 || len(in.Entries) > maxEntriesPerCall {
		return nil, fmt.Errorf("fake bus: %d entries in one call", len(in.Entries))
	}
	size := 0
	for _, e := range in.Entries {
		size += entrySize(e)
	}
	if size > maxBytesPerCall {
		return nil, fmt.Errorf("fake bus: %d bytes in one call", size)
	}
	if b.callErr != nil && len(b.calls) == b.callErrAt {
		return nil, b.callErr
	}
	out := &eventbridge.PutEventsOutput{Entries: make([]types.PutEventsResultEntry, len(in.Entries))}
	for k, e := range in.Entries {
		key := eventKey(e)
		if n := b.fail[key]; n != 0 {
			b.fail[key] = n - 1
			out.Entries[k] = types.PutEventsResultEntry{ErrorCode: aws.String(b.code), ErrorMessage: aws.String("fake failure")}
			out.FailedEntryCount++
			continue
		}
		out.Entries[k] = types.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("event-%d-%d", len(b.calls), k))}
	}
	return out, nil
}

// sent counts the entries sent per event key.
func (b *fakeBus) sent() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := make(map[string]int)
	for _, call := range b.calls {
		for _, e := range call {
			n[eventKey(e)]++
		}
	}
	return n
}

func eventKey(e types.PutEventsRequestEntry) string {
	var s contract.StatusChange
	_ = json.Unmarshal([]byte(aws.ToString(e.Detail)), &s)
	return s.EventKey
}

// testSink returns the EventBridge sink on bus, as main builds it, with
// a short backoff.
func testSink(bus eventPutter, log *slog.Logger) *EventBridge {
	return NewEventBridge(bus, EventBridgeOptions{
		BusName: testBus, Source: contract.DefaultEventSource,
		Region: testenv.Region, Account: testenv.Account,
		Resend: ResendOptions{MaxBackoff: 5 * time.Millisecond},
		Logger: log,
	})
}

// logBuffer collects a JSON logger's lines.
type logBuffer struct{ testenv.Buffer }

func newLog() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return logging.New(lb, slog.LevelDebug), lb
}

// lines returns the logged lines with message msg.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range testenv.JSONLines(t, l.String()) {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// failures returns the ids a handler's answer names for redelivery.
func failures(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// handleFixtures runs n's handler on every events/notify batch, in name
// order, checks each one's redeliveries against the fixtures table and
// returns the messages it published, by event key.
func handleFixtures(t *testing.T, n *Notifier) map[string]queue.Message {
	t.Helper()
	published := map[string]queue.Message{}
	for _, name := range slices.Sorted(maps.Keys(fixtures)) {
		ev := readBatch(t, name)
		resp, err := n.HandleSQS(t.Context(), ev)
		if err != nil {
			t.Fatalf("%s: HandleSQS: %v", name, err)
		}
		failed := failures(resp)
		if want := fixtures[name].wantFailed; !slices.Equal(failed, want) {
			t.Errorf("%s: batch item failures = %v, want %v", name, failed, want)
		}
		for _, r := range ev.Records {
			if s, err := contract.DecodeStatusChange([]byte(r.Body)); err == nil && !slices.Contains(failed, r.MessageId) {
				published[s.EventKey] = queue.Message{ID: r.MessageId, Body: r.Body}
			}
		}
	}
	return published
}

// readFixture reads a file of events/notify.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readBatch reads an SQS event fixture.
func readBatch(t *testing.T, name string) events.SQSEvent {
	t.Helper()
	data := readFixture(t, name)
	var ev events.SQSEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(ev.Records) == 0 {
		t.Fatalf("%s: no records", name)
	}
	return ev
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// validateEvent checks an event, as a rule target receives it, against
// schemas/status-change.schema.json.
func validateEvent(t *testing.T, event []byte) {
	t.Helper()
	if err := schemaError(t, event); err != nil {
		t.Errorf("event does not match the schema: %v\n%s", err, event)
	}
}

// schemaError returns why event does not match the schema, or nil.
func schemaError(t *testing.T, event []byte) error {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		schema, schemaErr = c.Compile(schemaFile)
	})
	if schemaErr != nil {
		t.Fatalf("compile schema: %v", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		t.Fatalf("event is not JSON: %v\n%s", err, event)
	}
	return schema.Validate(inst)
}

// envelope wraps an entry the way EventBridge delivers it to a target.
func envelope(t *testing.T, e types.PutEventsRequestEntry, id string) []byte {
	t.Helper()
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": aws.ToString(e.DetailType),
		"source": aws.ToString(e.Source), "account": testenv.Account,
		"time": "2026-03-02T10:05:01Z", "region": testenv.Region,
		"resources": e.Resources, "detail": json.RawMessage(aws.ToString(e.Detail)),
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
