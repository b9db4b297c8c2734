package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/metrics"
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
	// Resend bounds the PutEvents calls made for an entry EventBridge
	// failed.
	Resend ResendOptions
	// Logger receives a line for each entry resent; slog.Default when nil.
	Logger *slog.Logger
	// Metrics receives, for each status change put on the bus, what it
	// tells of its job: JobsEnded, JobDurationSeconds and
	// DetectionLagSeconds. Under Deduplicate a change is put once, so
	// duplicates are not counted. Nil records nothing.
	Metrics *metrics.Recorder
}

// EventBridge is the sink that puts each status change on the project's
// event bus as an "Amplify Backend Job Status Change" event.
type EventBridge struct {
	batcher // Name, and the calls
	client  eventPutter
	opts    EventBridgeOptions
}

// NewEventBridge returns the EventBridge sink, named "eventbridge";
// client is usually an *eventbridge.Client.
func NewEventBridge(client eventPutter, opts EventBridgeOptions) *EventBridge {
	b := newBatcher("eventbridge", "EventBridge", maxEntriesPerCall, maxBytesPerCall, opts.Resend, opts.Logger)
	return &EventBridge{batcher: b, client: client, opts: opts}
}

// EntryError is a service's verdict on one entry of a batch call:
// EventBridge's PutEvents, SNS's PublishBatch.
type EntryError struct {
	Code, Message string
	// SenderFault says the service refused the entry itself (SNS's
	// SenderFault; EventBridge's InvalidArgument and MalformedDetail):
	// sending it again cannot succeed.
	SenderFault bool
}

// Error reads like the SDK's: "ThrottlingException: Rate exceeded".
func (e *EntryError) Error() string { return e.Code + ": " + e.Message }

// ErrorCode is the service's code for the entry's failure, so that a
// throttled entry is told apart as the SDK tells throttling apart.
func (e *EntryError) ErrorCode() string { return e.Code }

// RetryableError reports whether sending the entry again may succeed:
// throttling and internal failures may pass on a later call, a refused
// entry won't. The batch sinks resend with it, and notify decides with
// it between a delayed copy and the dead-letter queue.
func (e *EntryError) RetryableError() bool { return !e.SenderFault }

// eventRefused reports whether EventBridge's code for an entry refuses
// the entry itself.
func eventRefused(code string) bool { return code == "InvalidArgument" || code == "MalformedDetail" }

// refusal is an error no later attempt can cure: a change too big for a
// sink, or one that does not encode, or a message that does not decode.
type refusal struct{ error }

// RetryableError implements the SDK's retryable-error interface: never.
func (refusal) RetryableError() bool { return false }

func (r refusal) Unwrap() error { return r.error }

// entry returns the PutEvents entry for c, or why it cannot be sent.
func (s *EventBridge) entry(_ int, c Change) (types.PutEventsRequestEntry, error) {
	detail, err := json.Marshal(c.StatusChange)
	if err != nil {
		return types.PutEventsRequestEntry{}, refusal{fmt.Errorf("encode status change %s: %w", c.EventKey, err)}
	}
	e := types.PutEventsRequestEntry{
		EventBusName: aws.String(s.opts.BusName),
		Source:       aws.String(s.opts.Source),
		DetailType:   aws.String(contract.DetailTypeStatusChange),
		Resources:    []string{contract.JobARN(s.opts.Region, s.opts.Account, c.AppID, c.BackendEnvironmentName, c.JobID)},
		Detail:       aws.String(string(detail)),
	}
	if n := entrySize(e); n > maxBytesPerCall {
		return e, refusal{fmt.Errorf("event %s is %d bytes; PutEvents takes at most %d", c.EventKey, n, maxBytesPerCall)}
	}
	return e, nil
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
// after a jittered backoff, until Resend.MaxAttempts calls were made for
// them.
func (s *EventBridge) Publish(ctx context.Context, changes []Change) []error {
	errs := publish(ctx, s.batcher, changes, s.entry, entrySize,
		func(entries []types.PutEventsRequestEntry, errs []error, idx []int) []int {
			return s.put(ctx, changes, entries, errs, idx)
		})
	for i, err := range errs {
		if err == nil {
			recordEnd(s.opts.Metrics, changes[i].StatusChange)
		}
	}
	return errs
}

// put makes one PutEvents call for the changes at idx, records each
// one's outcome in errs and returns those worth resending.
func (s *EventBridge) put(ctx context.Context, changes []Change, entries []types.PutEventsRequestEntry, errs []error, idx []int) (resend []int) {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(idx))}
	for k, i := range idx {
		in.Entries[k] = entries[i]
	}
	out, err := s.client.PutEvents(ctx, in)
	if err != nil {
		// The SDK's retryer has already retried what is worth retrying.
		for _, i := range idx {
			errs[i] = fmt.Errorf("put event %s on bus %s: %w", changes[i].EventKey, s.opts.BusName, err)
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
			code := aws.ToString(res.ErrorCode)
			ee := &EntryError{Code: code, Message: aws.ToString(res.ErrorMessage), SenderFault: eventRefused(code)}
			errs[i] = fmt.Errorf("put event %s on bus %s: %w", changes[i].EventKey, s.opts.BusName, ee)
			if ee.RetryableError() {
				resend = append(resend, i)
			}
		case res.EventId == nil:
			errs[i] = fmt.Errorf("put event %s on bus %s: no result for the entry", changes[i].EventKey, s.opts.BusName)
			resend = append(resend, i)
		default:
			errs[i] = nil
		}
	}
	return resend
}
