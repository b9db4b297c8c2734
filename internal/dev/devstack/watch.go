package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// Watch is what receives, locally, what users of a deployed stack would:
// a queue a rule sends every status change on the bus to, a queue
// subscribed to the notification topic, and a Slack webhook stand-in.
type Watch struct {
	Events Queue  `json:"events"`
	Rule   string `json:"rule"`
	SNS    Queue  `json:"sns"`
	Slack  *Slack `json:"slack,omitempty"`
}

// Slack is the Slack webhook stand-in of a stack: its URL (stored, as in
// AWS, in an SSM SecureString parameter notify reads by name) and the
// parameter's name. Start serves it.
type Slack struct {
	URL       string `json:"url"`
	Parameter string `json:"parameter"`
}

// newSlackStandIn picks the stand-in's address and stores its URL.
func newSlackStandIn(ctx context.Context, cfg aws.Config, stackName string) (*Slack, error) {
	port, err := lambdasim.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Slack{URL: slacktest.WebhookURL("127.0.0.1:" + strconv.Itoa(port)), Parameter: "/" + stackName + "/slack-webhook"}
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(s.Parameter),
		Value: aws.String(s.URL), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
		return nil, fmt.Errorf("store the Slack webhook in SSM: %w", err)
	}
	return s, nil
}

// create makes the observer queues: a rule on the stack's bus for every
// status change, as a user's rule would, and a subscription to its topic.
func (w *Watch) create(ctx context.Context, cfg aws.Config, s *Stack) error {
	sq := sqs.NewFromConfig(cfg)
	var err error
	if w.Events, err = createPlainQueue(ctx, sq, s.StackName+"-watch-events"); err != nil {
		return err
	}
	if w.SNS, err = createPlainQueue(ctx, sq, s.StackName+"-watch-sns"); err != nil {
		return err
	}
	eb := eventbridge.NewFromConfig(cfg)
	bus := s.Buses["EventBus"].Name
	w.Rule = s.StackName + "-watch-events"
	pattern := fmt.Sprintf(`{"detail-type":[%q]}`, contract.DetailTypeStatusChange)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(w.Rule), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		return fmt.Errorf("create the observer rule: %w", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(w.Rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("watch"), Arn: aws.String(w.Events.ARN)}}}); err != nil {
		return fmt.Errorf("target the observer rule: %w", err)
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(s.Topics["NotificationTopic"].ARN),
		Protocol: aws.String("sqs"), Endpoint: aws.String(w.SNS.ARN)}); err != nil {
		return fmt.Errorf("subscribe to the topic: %w", err)
	}
	return nil
}

func createPlainQueue(ctx context.Context, c *sqs.Client, name string) (Queue, error) {
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return Queue{}, fmt.Errorf("create queue %s: %w", name, err)
	}
	return Queue{Name: name, URL: aws.ToString(out.QueueUrl), ARN: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", Region, Account, name)}, nil
}

// delete removes what create made (for a moto server that keeps running).
func (w *Watch) delete(ctx context.Context, cfg aws.Config, s *Stack) error {
	var errs []error
	if w.Rule != "" {
		eb := eventbridge.NewFromConfig(cfg)
		bus := aws.String(s.Buses["EventBus"].Name)
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(w.Rule), EventBusName: bus, Ids: []string{"watch"}})
		_, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(w.Rule), EventBusName: bus})
		errs = append(errs, err)
	}
	sq := sqs.NewFromConfig(cfg)
	for _, q := range []Queue{w.Events, w.SNS} {
		if q.URL != "" {
			_, err := sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(q.URL)})
			errs = append(errs, err)
		}
	}
	if w.Slack != nil {
		_, err := ssm.NewFromConfig(cfg).DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(w.Slack.Parameter)})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Event is a status change as a rule on the bus delivers it.
type Event struct {
	Source     string                `json:"source"`
	DetailType string                `json:"detail-type"`
	Resources  []string              `json:"resources"`
	Detail     contract.StatusChange `json:"detail"`
}

// Notification is a message SNS delivered from the topic to a queue.
type Notification struct {
	Subject    string
	Message    string
	Attributes map[string]string
}

// Observer hears what reaches users: each is called once per delivery
// (a message received again is recognised by its id), from its own
// goroutine.
type Observer struct {
	OnEvent        func(Event)
	OnNotification func(Notification)
	OnSlack        func(slacktest.Post)
}

// observe receives from the watch queues and the Slack stand-in until ctx
// ends, handing each delivery to o.
func (w *Watch) observe(ctx context.Context, sq *sqs.Client, slack *slacktest.Server, o Observer) (wait func()) {
	done := make(chan struct{}, 3)
	n := 0
	run := func(f func()) {
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			f()
		}()
	}
	if o.OnEvent != nil && w.Events.URL != "" {
		run(func() { collect(ctx, sq, w.Events.URL, func(body string) { o.OnEvent(decodeEvent(body)) }) })
	}
	if o.OnNotification != nil && w.SNS.URL != "" {
		run(func() { collect(ctx, sq, w.SNS.URL, func(body string) { o.OnNotification(decodeNotification(body)) }) })
	}
	if o.OnSlack != nil && slack != nil {
		run(func() {
			for p := range slack.Watch(ctx) {
				o.OnSlack(p)
			}
		})
	}
	return func() {
		for range n {
			<-done
		}
	}
}

func decodeEvent(body string) Event {
	var ev Event
	_ = json.Unmarshal([]byte(body), &ev) // a stranger's event reads as empty
	return ev
}

func decodeNotification(body string) Notification {
	var env struct {
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Value string }
	}
	_ = json.Unmarshal([]byte(body), &env)
	n := Notification{Subject: env.Subject, Message: env.Message, Attributes: map[string]string{}}
	for k, v := range env.MessageAttributes {
		n.Attributes[k] = v.Value
	}
	return n
}

// collect receives a queue's messages until ctx ends, handing each body to
// handle once: a message received again (its deletion failed) is known by
// its id and not handed over twice.
func collect(ctx context.Context, c *sqs.Client, url string, handle func(body string)) {
	seen := map[string]bool{}
	for ctx.Err() == nil {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			lambdasim.Sleep(ctx, 200*time.Millisecond)
			continue
		}
		var entries []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				handle(aws.ToString(m.Body))
			}
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if len(entries) > 0 {
			_, _ = c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		}
	}
}
