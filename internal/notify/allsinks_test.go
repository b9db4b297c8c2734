package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/notify/secretstore"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// allSinks is what TestHandleSQSAllSinks publishes to: queues behind a
// rule on the bus and behind the topic, in moto, and Slack's stand-in.
type allSinks struct {
	sq                   *sqs.Client
	busQueue, topicQueue string
	slack                *slacktest.Server
}

// newAllSinks creates the bus, the topic, the queues, the SecureString
// holding the stand-in's URL, and the notifier with every sink, built
// from configuration as the function builds them, logging to log.
func newAllSinks(t *testing.T, log *slog.Logger) (*Notifier, allSinks) {
	t.Helper()
	ctx := t.Context()
	cfg := testenv.AWSConfig(testenv.Moto(t))
	eb, snsc, ssmc := eventbridge.NewFromConfig(cfg), sns.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	to := allSinks{sq: sqs.NewFromConfig(cfg), slack: slacktest.NewServer()}
	t.Cleanup(to.slack.Close)

	bus := testenv.Name(t, "jobwatch-bus")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	to.busQueue = ruleToQueue(t, eb, to.sq, bus, `{"detail-type": ["Amplify Backend Job Status Change"]}`)
	topic := createTopic(t, snsc)
	to.topicQueue = subscribeQueue(t, snsc, to.sq, topic, "", true)
	param := "/" + testenv.Name(t, "jobwatch/slack-webhook")
	if _, err := ssmc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param), Type: ssmtypes.ParameterTypeSecureString,
		Value: aws.String(to.slack.URL())}); err != nil {
		t.Fatal(err)
	}

	// The configuration, as the template and a local run set it.
	c, err := LoadConfig(settings.FromMap(map[string]string{
		"EVENT_BUS_NAME": bus, "ACCOUNT_ID": testenv.Account, "AWS_REGION": testenv.Region, "LOG_LEVEL": "DEBUG",
		"SNS_TOPIC_ARN": topic, "SLACK_WEBHOOK_PARAMETER": "ssm:" + param, "SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL": "true",
	}))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	store := secretstore.NewFromConfig(cfg)
	webhook := NewWebhookSecret(c.SlackWebhook, store, store, WebhookSecretOptions{
		TTL: c.SlackWebhookTTL, AllowInsecureLocal: c.SlackAllowInsecureLocal, Logger: log})
	return New(log,
		NewEventBridge(eb, EventBridgeOptions{BusName: c.EventBusName, Source: c.EventSource, Region: c.Region, Account: c.AccountID, Logger: log}),
		Only(c.SNSStatuses, NewSNS(snsc, SNSOptions{TopicARN: c.SNSTopicARN, Region: c.Region, Logger: log})),
		Only(c.SlackStatuses, NewSlack(webhook, SlackOptions{Region: c.Region, Interval: 50 * time.Millisecond, Logger: log})),
	), to
}

// TestHandleSQSAllSinks runs the Lambda handler with every sink on, built
// from configuration as the function builds them: EventBridge and SNS in
// moto, the webhook URL in a moto SecureString, Slack's stand-in. One
// batch has a status change whose error holds a secret-looking value and
// markup, one the still-running warning, and Slack refuses one post. The
// refused message alone is redelivered; the webhook URL appears in no log
// line and no error, while the job's own error reaches Slack as it is.
func TestHandleSQSAllSinks(t *testing.T) {
	log, logs := newLog()
	n, to := newAllSinks(t, log)
	slackSrv := to.slack

	// One batch: Slack refuses the first post (the webhook was removed
	// and set up again in between, say) and takes the others.
	ev := readBatch(t, "completed.json")
	for _, name := range []string{"failed-untrusted-text.json", "still-running.json", "lost.json"} {
		ev.Records = append(ev.Records, readBatch(t, name).Records...)
	}
	slackSrv.Fail(1, 404, "no_service")
	lambdaCtx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	resp, err := n.HandleSQS(lambdaCtx, ev)
	if err != nil {
		t.Fatalf("HandleSQS: %v", err)
	}
	completed := ev.Records[0].MessageId
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != completed {
		t.Errorf("batch item failures = %+v, want only %s, which Slack refused", resp.BatchItemFailures, completed)
	}

	// EventBridge and SNS got all four; Slack refused the completed job,
	// took the failed and lost ones and never saw the warning.
	var published []string
	for _, e := range receive(t, to.sq, to.busQueue, 4) {
		published = append(published, string(e.raw))
	}
	for _, m := range receiveRaw(t, to.sq, to.topicQueue, 4) {
		published = append(published, aws.ToString(m.Body))
	}
	if len(published) != 8 {
		t.Errorf("%d events and notifications, want 4 of each", len(published))
	}
	var posts []string
	for _, p := range slackSrv.Posts() {
		posts = append(posts, strings.Fields(p.Message.Text)[0]+" "+p.Answer)
	}
	if want := []string{":white_check_mark: no_service", ":x: ok", ":grey_question: ok"}; !slices.Equal(posts, want) {
		t.Errorf("Slack posts = %q, want %q", posts, want)
	}
	msgs := slackSrv.Messages()
	if len(msgs) == 0 || !strings.Contains(slacktest.Render(msgs[0]), "ClientSecret=Zm9vYmFyLXNlY3JldC12YWx1ZQ") {
		t.Errorf("the job's error did not reach Slack as it is")
	}

	// The refusal is logged, naming the sink and Slack's reason.
	lines := logs.lines(t, "status change not delivered; the message will be redelivered")
	if len(lines) != 1 || lines[0]["sink"] != "slack" || lines[0]["messageId"] != completed ||
		!strings.Contains(lines[0]["error"].(string), "Slack answered 404 no_service") {
		t.Errorf("failure lines = %v", lines)
	}
	// Nothing shows the webhook URL: not the logs, the response, the
	// events or the notifications.
	respJSON, _ := json.Marshal(resp)
	assertNoToken(t, slackSrv, "the logs", logs.String())
	assertNoToken(t, slackSrv, "the response", string(respJSON))
	assertNoToken(t, slackSrv, "the events and notifications", published...)
	if len(logs.lines(t, "batch done")) != 1 {
		t.Errorf("the logs were not captured:\n%s", logs.String())
	}
}
