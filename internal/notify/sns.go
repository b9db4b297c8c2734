package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// PublishBatch limits: entries per call, and bytes per call (messages and
// their attributes), the same for a single message.
const (
	maxSNSEntries = 10
	maxSNSBytes   = 256 * 1024
	// maxSubject: the API reference asks for fewer than 100 characters.
	maxSubject = 99
)

// The message attributes subscriptions filter on.
const (
	AttrStatus      = "status"
	AttrOperation   = "operation"
	AttrAppID       = "appId"
	AttrEnvironment = "backendEnvironmentName"
)

// topicPublisher is the part of *sns.Client the sink uses.
type topicPublisher interface {
	PublishBatch(ctx context.Context, in *sns.PublishBatchInput, optFns ...func(*sns.Options)) (*sns.PublishBatchOutput, error)
}

// SNSOptions configure the SNS sink.
type SNSOptions struct {
	// TopicARN is the topic's ARN (a standard topic).
	TopicARN string
	// Region is the jobs' region, for the link to the Amplify console.
	Region string
	// Resend bounds the PublishBatch calls made for a message SNS failed.
	Resend ResendOptions
	// Logger receives a line for each message resent; slog.Default when
	// nil.
	Logger *slog.Logger
}

// SNS is the sink publishing each status change to a topic: a readable
// Subject and Message for email and chat subscribers, and the message
// attributes status, operation, appId and backendEnvironmentName
// (String) for subscriptions' filter policies.
type SNS struct {
	batcher // Name, and the calls
	client  topicPublisher
	opts    SNSOptions
}

// NewSNS returns the SNS sink, named "sns"; client is usually an
// *sns.Client.
func NewSNS(client topicPublisher, opts SNSOptions) *SNS {
	b := newBatcher("sns", "SNS", maxSNSEntries, maxSNSBytes, opts.Resend, opts.Logger)
	return &SNS{batcher: b, client: client, opts: opts}
}

// Publish implements Sink: PublishBatch calls of at most 10 entries and
// 256 KB, then the entries SNS failed for its own reasons (not the
// sender's) are resent after a jittered backoff, up to Resend.MaxAttempts calls.
func (s *SNS) Publish(ctx context.Context, changes []Change) []error {
	return publish(ctx, s.batcher, changes, s.entry, snsEntrySize,
		func(entries []types.PublishBatchRequestEntry, errs []error, idx []int) []int {
			return s.publishBatch(ctx, changes, entries, errs, idx)
		})
}

// entry is the PublishBatch entry of change i, or why it cannot be sent.
func (s *SNS) entry(i int, c Change) (types.PublishBatchRequestEntry, error) {
	e, err := snsEntry(c, s.opts.Region, "c"+strconv.Itoa(i))
	if n := snsEntrySize(e); err == nil && n > maxSNSBytes {
		err = fmt.Errorf("notification %s is %d bytes; SNS takes at most %d", c.EventKey, n, maxSNSBytes)
	}
	if err != nil {
		return e, refusal{err}
	}
	return e, nil
}

// publishBatch makes one PublishBatch call for the changes at idx,
// records each one's outcome in errs and returns those worth resending.
func (s *SNS) publishBatch(ctx context.Context, changes []Change, entries []types.PublishBatchRequestEntry, errs []error, idx []int) (resend []int) {
	in := &sns.PublishBatchInput{TopicArn: aws.String(s.opts.TopicARN)}
	byID := make(map[string]int, len(idx))
	for _, i := range idx {
		in.PublishBatchRequestEntries = append(in.PublishBatchRequestEntries, entries[i])
		byID[aws.ToString(entries[i].Id)] = i
	}
	out, err := s.client.PublishBatch(ctx, in)
	if err != nil {
		// The SDK's retryer has already retried what is worth retrying.
		for _, i := range idx {
			errs[i] = fmt.Errorf("publish %s to topic %s: %w", changes[i].EventKey, s.opts.TopicARN, err)
		}
		return nil
	}
	answered := make(map[int]bool, len(idx))
	for _, ok := range out.Successful {
		if i, known := byID[aws.ToString(ok.Id)]; known {
			errs[i], answered[i] = nil, true
		}
	}
	for _, f := range out.Failed {
		i, known := byID[aws.ToString(f.Id)]
		if !known {
			continue
		}
		answered[i] = true
		ee := &EntryError{Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
		errs[i] = fmt.Errorf("publish %s to topic %s: %w", changes[i].EventKey, s.opts.TopicARN, ee)
		if ee.RetryableError() {
			resend = append(resend, i)
		}
	}
	for _, i := range idx {
		if !answered[i] {
			errs[i] = fmt.Errorf("publish %s to topic %s: no result for the entry", changes[i].EventKey, s.opts.TopicARN)
			resend = append(resend, i)
		}
	}
	return resend
}

// snsEntry is the PublishBatch entry of a change.
func snsEntry(c Change, region, id string) (types.PublishBatchRequestEntry, error) {
	msg, err := SNSMessage(c.StatusChange, region)
	if err != nil {
		return types.PublishBatchRequestEntry{}, err
	}
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return types.PublishBatchRequestEntry{
		Id:      aws.String(id),
		Subject: aws.String(SNSSubject(c.StatusChange)),
		Message: aws.String(msg),
		MessageAttributes: map[string]types.MessageAttributeValue{
			AttrStatus:      str(c.Status),
			AttrOperation:   str(c.Operation),
			AttrAppID:       str(c.AppID),
			AttrEnvironment: str(c.BackendEnvironmentName),
		},
	}, nil
}

// snsEntrySize is an entry's share of the 256 KB limit: the message, its
// subject and its attributes' names, types and values.
func snsEntrySize(e types.PublishBatchRequestEntry) int {
	n := len(aws.ToString(e.Message)) + len(aws.ToString(e.Subject))
	for name, v := range e.MessageAttributes {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// SNSSubject is a notification's subject, e.g. "jobwatch: CloneBackend
// FAILED on d1abc23/dev": printable ASCII on one line, fewer than 100
// characters, as SNS requires.
func SNSSubject(c contract.StatusChange) string {
	s := fmt.Sprintf("jobwatch: %s %s on %s/%s", c.Operation, c.Status, c.AppID, c.BackendEnvironmentName)
	b := []byte(s)
	for i, ch := range b {
		if ch < 0x20 || ch > 0x7e {
			b[i] = '?'
		}
	}
	if s = string(b); len(s) > maxSubject {
		s = s[:maxSubject-3] + "..."
	}
	return s
}

// SNSMessage is a notification's body: a summary people read, then the
// status change as JSON (the EventBridge event's detail) for programs.
func SNSMessage(c contract.StatusChange, region string) (string, error) {
	// Indented and with <, > and & as they are: people read it too.
	var detail strings.Builder
	enc := json.NewEncoder(&detail)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("encode status change %s: %w", c.EventKey, err)
	}
	_, phrase := outcome(c.Status)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s on Amplify app %s, backend environment %s.\n\n", c.Operation, phrase, c.AppID, c.BackendEnvironmentName)
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-11s %s\n", label+":", value)
		}
	}
	line("Job", c.JobID)
	if c.JobID == "" {
		line("Request", c.RequestID+" (no job was started)")
	}
	status := c.Status
	if c.PreviousStatus != "" {
		status += " (was " + c.PreviousStatus + ")"
	}
	line("Status", status)
	line("Duration", fmt.Sprintf("%s, %d polls", HumanDuration(c.DurationSeconds), c.Polls))
	line("Submitted", c.SubmittedAt)
	line("Detected", c.DetectedAt)
	if c.JobID != "" {
		line("Request", c.RequestID)
	}
	line("Error", truncate(c.Error, 4000))
	line("Console", ConsoleURL(region, c.AppID, c.BackendEnvironmentName))
	line("Event key", c.EventKey)
	fmt.Fprintf(&b, "\nDetail (as in the %q event):\n%s", contract.DetailTypeStatusChange, detail.String())
	return b.String(), nil
}
