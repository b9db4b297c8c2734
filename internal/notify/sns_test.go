package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

// The filter policies of the README (Notifications, SNS), and which changes each
// lets through. The first is also the template's email subscription's
// (NotificationEmailStatuses' default).
var filterPolicies = []struct {
	policy string
	want   func(contract.StatusChange) bool
}{
	{`{"status": ["FAILED", "TIMED_OUT"]}`, func(s contract.StatusChange) bool {
		return s.Status == contract.StatusFailed || s.Status == contract.StatusTimedOut
	}},
	{`{"appId": ["d1abc23"], "backendEnvironmentName": ["prod"], "status": [{"anything-but": ["STILL_RUNNING"]}]}`, func(s contract.StatusChange) bool {
		return s.AppID == "d1abc23" && s.BackendEnvironmentName == "prod" && s.Status != contract.StatusStillRunning
	}},
	{`{"status": ["FAILED"], "operation": ["CloneBackend", "CreateBackendAuth", "UpdateBackendAuth"], "backendEnvironmentName": [{"prefix": "pr"}]}`, func(s contract.StatusChange) bool {
		return s.Status == contract.StatusFailed && slices.Contains([]string{"CloneBackend", "CreateBackendAuth", "UpdateBackendAuth"}, s.Operation) &&
			strings.HasPrefix(s.BackendEnvironmentName, "pr")
	}},
}

// TestMotoSNSFilterPolicy publishes every events/notify batch, and a few
// changes on a prod environment, to a topic in moto with an SQS
// subscriber per filter policy and one without: each filtered queue gets
// exactly the changes its policy names, the other every change; each
// notification carries the subject, the summary, the detail and the four
// attributes.
func TestMotoSNSFilterPolicy(t *testing.T) {
	ctx := testenv.Context(t)
	cfg := testenv.AWSConfig(testenv.Moto(t))
	snsc, sq := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic := createTopic(t, snsc)
	filtered := make([]string, len(filterPolicies))
	for i, fp := range filterPolicies {
		// The first without raw delivery: SNS's envelope, with the subject.
		filtered[i] = subscribeQueue(t, snsc, sq, topic, fp.policy, i > 0)
	}
	everything := subscribeQueue(t, snsc, sq, topic, "", true)

	log, _ := newLog()
	sink := NewSNS(snsc, SNSOptions{TopicARN: topic, Region: testenv.Region, Logger: log})
	sent := map[string]contract.StatusChange{}
	for key, m := range handleFixtures(t, New(log, sink)) {
		sent[key], _ = contract.DecodeStatusChange([]byte(m.Body))
	}
	prod := changes(contract.StatusCompleted, contract.StatusFailed)
	for i := range prod {
		prod[i].BackendEnvironmentName = "prod"
		prod[i].EventKey = contract.EventKey(prod[i].AppID, "prod", prod[i].JobID, "", prod[i].Status)
		sent[prod[i].EventKey] = prod[i].StatusChange
	}
	if errs := errorTexts(sink.Publish(ctx, prod)); len(errs) > 0 {
		t.Fatal(errs)
	}

	checkUnfiltered(t, receiveRaw(t, sq, everything, len(sent)), sent)
	for i, fp := range filterPolicies {
		var want []string
		for key, s := range sent {
			if fp.want(s) {
				want = append(want, key)
			}
		}
		got := filteredKeys(t, receiveRaw(t, sq, filtered[i], len(want)), i > 0)
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("filter policy %s let through\n%v\nwant\n%v", fp.policy, got, want)
		}
	}
}

// checkUnfiltered checks what the unfiltered, raw subscriber got: every
// change sent, the message as published, with its attributes.
func checkUnfiltered(t *testing.T, all []sqstypes.Message, sent map[string]contract.StatusChange) {
	t.Helper()
	if len(all) != len(sent) {
		t.Errorf("%d notifications on the unfiltered queue, want %d", len(all), len(sent))
	}
	for _, m := range all {
		_, detail, ok := strings.Cut(aws.ToString(m.Body), "event):\n")
		s, err := contract.DecodeStatusChange([]byte(detail))
		if !ok || err != nil || sent[s.EventKey] != s {
			t.Errorf("notification detail does not match a change sent (%v):\n%s", err, aws.ToString(m.Body))
			continue
		}
		want := map[string]string{"status": s.Status, "operation": s.Operation, "appId": s.AppID, "backendEnvironmentName": s.BackendEnvironmentName}
		for name, value := range want {
			a, ok := m.MessageAttributes[name]
			if !ok || aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != value {
				t.Errorf("%s: attribute %s = %+v, want String %q", s.EventKey, name, a, value)
			}
		}
	}
}

// filteredKeys returns the event keys of the notifications a filtered
// subscriber got; without raw delivery, each in SNS's envelope, whose
// subject and status attribute it checks.
func filteredKeys(t *testing.T, msgs []sqstypes.Message, raw bool) []string {
	t.Helper()
	var keys []string
	for _, m := range msgs {
		body := aws.ToString(m.Body)
		var env struct {
			Subject, Message  string
			MessageAttributes map[string]struct{ Type, Value string }
		}
		if !raw {
			if err := json.Unmarshal([]byte(body), &env); err != nil {
				t.Fatalf("SNS envelope: %v", err)
			}
			body = env.Message
		}
		_, detail, _ := strings.Cut(body, "event):\n")
		s, err := contract.DecodeStatusChange([]byte(detail))
		if err != nil {
			t.Fatalf("detail: %v\n%s", err, body)
		}
		keys = append(keys, s.EventKey)
		if a := env.MessageAttributes["status"]; !raw && (env.Subject != SNSSubject(s) || a.Type != "String" || a.Value != s.Status) {
			t.Errorf("%s: subject %q, status attribute %+v", s.EventKey, env.Subject, a)
		}
	}
	return keys
}

func createTopic(t *testing.T, c *sns.Client) string {
	t.Helper()
	out, err := c.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String(testenv.Name(t, "jobwatch-notifications")),
		Attributes: map[string]string{"KmsMasterKeyId": "alias/aws/sns"}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return aws.ToString(out.TopicArn)
}

// subscribeQueue subscribes a new queue to topic with the filter policy
// (none when empty), returning the queue's URL.
func subscribeQueue(t *testing.T, c *sns.Client, sq *sqs.Client, topic, filterPolicy string, raw bool) string {
	t.Helper()
	url, arn := createQueue(t, sq, "notify-subscriber")
	subAttrs := map[string]string{"RawMessageDelivery": fmt.Sprint(raw)}
	if filterPolicy != "" {
		subAttrs["FilterPolicy"] = filterPolicy
		subAttrs["FilterPolicyScope"] = "MessageAttributes"
	}
	if _, err := c.Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(arn), Attributes: subAttrs}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return url
}

// fakeTopic stands in for SNS: it checks PublishBatch's limits, records
// the calls and fails the entries its plan names.
type fakeTopic struct {
	mu    sync.Mutex
	calls [][]snstypes.PublishBatchRequestEntry
	// fail maps an event key to how many more times its entry fails (-1:
	// always), as the sender's fault or not.
	fail        map[string]int
	senderFault bool
	callErr     error
	// drop leaves the entries of these event keys out of the answer.
	drop map[string]bool
}

func (f *fakeTopic) PublishBatch(ctx context.Context, in *sns.PublishBatchInput, _ ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.PublishBatchRequestEntries)
	size := 0
	for _, e := range in.PublishBatchRequestEntries {
		size += snsEntrySize(e)
	}
	if n := len(in.PublishBatchRequestEntries); n == 0 || n > maxSNSEntries || size > maxSNSBytes {
		return nil, fmt.Errorf("fake topic: %d entries, %d bytes in one call", n, size)
	}
	if f.callErr != nil {
		return nil, f.callErr
	}
	out := &sns.PublishBatchOutput{}
	for _, e := range in.PublishBatchRequestEntries {
		key := snsEventKey(e)
		switch {
		case f.drop[key]:
		case f.fail[key] != 0:
			f.fail[key]--
			out.Failed = append(out.Failed, snstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"),
				Message: aws.String("fake failure"), SenderFault: f.senderFault})
		default:
			out.Successful = append(out.Successful, snstypes.PublishBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + aws.ToString(e.Id))})
		}
	}
	return out, nil
}

func snsEventKey(e snstypes.PublishBatchRequestEntry) string {
	_, detail, _ := strings.Cut(aws.ToString(e.Message), "event):\n")
	var s contract.StatusChange
	_ = json.Unmarshal([]byte(detail), &s)
	return s.EventKey
}

func TestSNSPublish(t *testing.T) {
	big := func(n, size int) Change {
		c := Change{MessageID: fmt.Sprintf("msg-%d", n), StatusChange: change(n, contract.StatusFailed)}
		c.Error = strings.Repeat("x", size)
		return c
	}
	key := func(n int) string { return change(n, contract.StatusCompleted).EventKey }
	for name, tc := range map[string]struct {
		topic     *fakeTopic
		changes   []Change
		wantCalls []int // entries per call
		wantErrs  map[int]string
	}{
		"twelve: 10 + 2": {
			topic: &fakeTopic{}, changes: changes(slices.Repeat([]string{contract.StatusCompleted}, 12)...),
			wantCalls: []int{10, 2},
		},
		"by size": {
			topic: &fakeTopic{}, changes: []Change{big(1, 100_000), big(2, 100_000), big(3, 100_000)},
			wantCalls: []int{2, 1},
		},
		"one too large fails alone, unsent": {
			topic: &fakeTopic{}, changes: []Change{big(1, 10), big(2, 300_000)},
			wantCalls: []int{1}, wantErrs: map[int]string{1: "is 30"},
		},
		"SNS's own failure is resent": {
			topic:   &fakeTopic{fail: map[string]int{key(2): 1}},
			changes: changes(contract.StatusCompleted, contract.StatusCompleted, contract.StatusCompleted), wantCalls: []int{3, 1},
		},
		"failing every time": {
			topic:   &fakeTopic{fail: map[string]int{key(2): -1}},
			changes: changes(contract.StatusCompleted, contract.StatusCompleted), wantCalls: []int{2, 1, 1},
			wantErrs: map[int]string{1: "InternalError: fake failure (after 3 attempts)"},
		},
		"the sender's fault is not resent": {
			topic:   &fakeTopic{fail: map[string]int{key(1): -1}, senderFault: true},
			changes: changes(contract.StatusCompleted, contract.StatusCompleted), wantCalls: []int{2},
			wantErrs: map[int]string{0: "publish d1abc23/dev/00000000-0000-4000-8000-000000000001/COMPLETED to topic arn:aws:sns:us-east-1:123456789012:jobwatch-test: InternalError: fake failure"},
		},
		"an entry without an answer is resent": {
			topic:   &fakeTopic{drop: map[string]bool{key(1): true}},
			changes: changes(contract.StatusCompleted), wantCalls: []int{1, 1, 1},
			wantErrs: map[int]string{0: "no result for the entry (after 3 attempts)"},
		},
		"the call fails": {
			topic:   &fakeTopic{callErr: errors.New("KMSAccessDenied")},
			changes: changes(contract.StatusCompleted, contract.StatusFailed), wantCalls: []int{2},
			wantErrs: map[int]string{0: "KMSAccessDenied", 1: "KMSAccessDenied"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			log, _ := newLog()
			s := NewSNS(tc.topic, SNSOptions{TopicARN: "arn:aws:sns:us-east-1:123456789012:jobwatch-test", Resend: ResendOptions{MaxBackoff: 5 * time.Millisecond}, Logger: log})
			errs := s.Publish(t.Context(), tc.changes)
			var calls []int
			for _, c := range tc.topic.calls {
				calls = append(calls, len(c))
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Errorf("entries per call = %v, want %v", calls, tc.wantCalls)
			}
			for i, err := range errs {
				want, ok := tc.wantErrs[i]
				switch {
				case !ok && err != nil:
					t.Errorf("change %d: %v", i, err)
				case ok && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("change %d: error %v, want %q", i, err, want)
				}
			}
		})
	}
}
