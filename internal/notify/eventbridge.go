package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// PutEvents limits: entries per call, and bytes per call counted the way
// EventBridge counts them (see entrySize).
const (
	maxEntriesPerCall = 10
	maxBytesPerCall   = 256 * 1024
)

// eventPutter is the part of *eventbridge.Client the sink uses.
type eventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridgeOptions configure the EventBridge sink.
type EventBridgeOptions struct {
	// BusName is the event bus's name or ARN.
	BusName string
	// Source is the events' source, e.g. contract.DefaultEventSource.
	Source string
	// Region and Account go into the job ARN, the event's resource.
	Region, Account string
	// MaxAttempts bounds the PutEvents calls made for one entry; 3 when 0.
	MaxAttempts int
	// MaxBackoff caps the jittered wait before resending failed entries;
	// 2s when 0.
	MaxBackoff time.Duration
	// Logger receives a line for each entry resent; slog.Default when nil.
	Logger *slog.Logger
}

// EventBridge is the sink that puts each status change on the project's
// event bus as an "Amplify Backend Job Status Change" event.
type EventBridge struct {
	client eventPutter
	opts   EventBridgeOptions
	batch  batcher
}

// NewEventBridge returns the EventBridge sink; client is usually an
// *eventbridge.Client.
func NewEventBridge(client eventPutter, opts EventBridgeOptions) *EventBridge {
	return &EventBridge{client: client, opts: opts,
		batch: newBatcher("EventBridge", maxEntriesPerCall, maxBytesPerCall, opts.MaxAttempts, opts.MaxBackoff, opts.Logger)}
}

// Name implements Sink.
func (*EventBridge) Name() string { return "eventbridge" }

// EntryError is a service's verdict on one entry of a batch call:
// EventBridge's PutEvents, SNS's PublishBatch.
type EntryError struct {
	Code, Message string
}

// Error reads like the SDK's: "ThrottlingException: Rate exceeded".
func (e *EntryError) Error() string { return e.Code + ": " + e.Message }

// retryable reports whether resending the entry may succeed: throttling
// and internal failures may pass on a later call, a refused entry won't.
func (e *EntryError) retryable() bool {
	switch e.Code {
	case "InvalidArgument", "MalformedDetail":
		return false
	}
	return true
}

// entry returns the PutEvents entry for c.
func (s *EventBridge) entry(c Change) (types.PutEventsRequestEntry, error) {
	detail, err := json.Marshal(c.StatusChange)
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("encode status change %s: %w", c.EventKey, err)
	}
	return types.PutEventsRequestEntry{
		EventBusName: aws.String(s.opts.BusName),
		Source:       aws.String(s.opts.Source),
		DetailType:   aws.String(contract.DetailTypeStatusChange),
		Resources:    []string{contract.JobARN(s.opts.Region, s.opts.Account, c.AppID, c.BackendEnvironmentName, c.JobID)},
		Detail:       aws.String(string(detail)),
	}, nil
}

// entrySize is an entry's share of the PutEvents size limit, as the
// EventBridge user guide calculates it.
func entrySize(e types.PutEventsRequestEntry) int {
	n := len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
	if e.Time != nil {
		n += 14
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// Publish implements Sink: it puts the changes in calls of at most 10
// entries and 256 KB, then resends only the entries EventBridge failed,
// after a jittered backoff, until MaxAttempts calls were made for them.
func (s *EventBridge) Publish(ctx context.Context, changes []Change) []error {
	p := &publishing{changes: changes, entries: make([]types.PutEventsRequestEntry, len(changes)), errs: make([]error, len(changes))}
	var pending []int // indexes of the changes still to send
	for i, c := range changes {
		e, err := s.entry(c)
		if err == nil && entrySize(e) > maxBytesPerCall {
			err = fmt.Errorf("event %s is %d bytes; PutEvents takes at most %d", c.EventKey, entrySize(e), maxBytesPerCall)
		}
		if err != nil {
			p.errs[i] = err
			continue
		}
		p.entries[i] = e
		pending = append(pending, i)
	}

	s.batch.send(ctx, changes, p.errs, pending,
		func(i int) int { return entrySize(p.entries[i]) },
		func(idx []int) []int { return s.put(ctx, p, idx) })
	return p.errs
}

// publishing is the state of one Publish: each change's entry and the
// outcome of its latest attempt.
type publishing struct {
	changes []Change
	entries []types.PutEventsRequestEntry
	errs    []error
}

// put makes one PutEvents call for the changes at idx, records each
// one's outcome and returns those worth resending.
func (s *EventBridge) put(ctx context.Context, p *publishing, idx []int) (resend []int) {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(idx))}
	for k, i := range idx {
		in.Entries[k] = p.entries[i]
	}
	out, err := s.client.PutEvents(ctx, in)
	if err != nil {
		// The SDK's retryer has already retried what is worth retrying.
		for _, i := range idx {
			p.errs[i] = fmt.Errorf("put event %s on bus %s: %w", p.changes[i].EventKey, s.opts.BusName, err)
		}
		return nil
	}
	for k, i := range idx {
		var res types.PutEventsResultEntry
		if k < len(out.Entries) {
			res = out.Entries[k]
		}
		switch {
		case res.ErrorCode != nil:
			ee := &EntryError{Code: aws.ToString(res.ErrorCode), Message: aws.ToString(res.ErrorMessage)}
			p.errs[i] = fmt.Errorf("put event %s on bus %s: %w", p.changes[i].EventKey, s.opts.BusName, ee)
			if ee.retryable() {
				resend = append(resend, i)
			}
		case res.EventId == nil:
			p.errs[i] = fmt.Errorf("put event %s on bus %s: no result for the entry", p.changes[i].EventKey, s.opts.BusName)
			resend = append(resend, i)
		default:
			p.errs[i] = nil
		}
	}
	return resend
}
