package samtemplate

import (
	"maps"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The project's template, from this package's directory.
var templatePath = filepath.Join("..", "..", "..", "template.yaml")

func loadProjectTemplate(t *testing.T) *Application {
	t.Helper()
	app, err := Load(templatePath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return app
}

// localFacts are facts as `jobwatch local` would gather them: names are
// resolved from the template first (the bus is named after the stack), the
// resources are created, and their URLs and ARNs become Refs and Attrs.
func localFacts(t *testing.T, app *Application, params map[string]string) Facts {
	t.Helper()
	const region, account = "us-east-1", "123456789012"
	f := Facts{Region: region, AccountID: account, StackName: "jobwatch-local", Parameters: params,
		Refs: map[string]string{}, Attrs: map[string]string{}}
	names := mustResolver(t, app, f)
	for _, q := range app.Queues {
		f.Refs[q.LogicalID] = localQueueURL(q.LogicalID)
		f.Attrs[q.LogicalID+".Arn"] = "arn:aws:sqs:" + region + ":" + account + ":" + q.LogicalID
		f.Attrs[q.LogicalID+".QueueName"] = q.LogicalID
	}
	for _, b := range app.EventBuses {
		name, err := names.String(b.Name)
		if err != nil {
			t.Fatalf("bus %s name: %v", b.LogicalID, err)
		}
		f.Refs[b.LogicalID] = name
		f.Attrs[b.LogicalID+".Arn"] = "arn:aws:events:" + region + ":" + account + ":event-bus/" + name
	}
	for _, tb := range app.Tables {
		f.Refs[tb.LogicalID] = "jobwatch-local-" + tb.LogicalID
	}
	for _, tp := range app.Topics {
		name := "jobwatch-local-" + tp.LogicalID
		f.Refs[tp.LogicalID] = "arn:aws:sns:" + region + ":" + account + ":" + name
		f.Attrs[tp.LogicalID+".TopicArn"] = f.Refs[tp.LogicalID]
		f.Attrs[tp.LogicalID+".TopicName"] = name
	}
	return f
}

func TestProjectTemplateFunctions(t *testing.T) {
	app := loadProjectTemplate(t)
	var ids []string
	for _, f := range app.Functions {
		ids = append(ids, f.LogicalID)
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
			t.Errorf("%s: runtime %q, handler %q, architectures %v; want provided.al2023, bootstrap, [arm64]", f.LogicalID, f.Runtime, f.Handler, f.Architectures)
		}
		if f.CodeURI != "." || f.BuildMethod != "makefile" {
			t.Errorf("%s: CodeUri %q, BuildMethod %q; want . and makefile (the Makefile's build-%s target)", f.LogicalID, f.CodeURI, f.BuildMethod, f.LogicalID)
		}
		if f.Timeout < 5*time.Second || f.Timeout > time.Minute || f.MemorySize < 128 || f.MemorySize > 256 {
			t.Errorf("%s: timeout %v, memory %d MB; want 5s to 1m and 128 to 256 MB", f.LogicalID, f.Timeout, f.MemorySize)
		}
	}
	if want := []string{"NotifyFunction", "PollFunction", "SubmitFunction", "SweepFunction"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("functions = %v; want %v", ids, want)
	}
}

// defaultEnvironment is the environment each function starts with given
// the template's defaults and the apps d1abc23 and d4def56.
var defaultEnvironment = map[string]map[string]string{
	"SubmitFunction": {
		"JOBS_QUEUE_URL":            localQueueURL("JobsQueue"),
		"WAITING_QUEUE_URL":         localQueueURL("WaitingQueue"),
		"COMPLETIONS_QUEUE_URL":     localQueueURL("CompletionsQueue"),
		"SUBMIT_FAILURES_QUEUE_URL": localQueueURL("SubmitFailuresQueue"),
		"STATE_TABLE":               "jobwatch-local-StateTable",
		"ALLOWED_APP_IDS":           "d1abc23,d4def56",
		"DEADLINE":                  "6h",
		"WAIT_DEADLINE":             "6h",
		"INITIAL_POLL_DELAY":        "10s",
		"WAIT_RETRY_DELAY":          "2m",
		"LOG_LEVEL":                 "INFO",
		"METRICS_NAMESPACE":         "jobwatch",
	},
	"PollFunction": {
		"JOBS_QUEUE_URL":             localQueueURL("JobsQueue"),
		"COMPLETIONS_QUEUE_URL":      localQueueURL("CompletionsQueue"),
		"WAITING_QUEUE_URL":          localQueueURL("WaitingQueue"),
		"JOBS_DEAD_LETTER_QUEUE_URL": localQueueURL("JobsDeadLetterQueue"),
		"NOT_FOUND_GRACE":            "2m",
		"POLL_POLICY":                "jobwatch",
		"LOG_LEVEL":                  "INFO",
		"METRICS_NAMESPACE":          "jobwatch",
		"STILL_RUNNING_AFTER":        "2h",
		"STATE_TABLE":                "jobwatch-local-StateTable",
		"ALLOWED_APP_IDS":            "d1abc23,d4def56",
	},
	"SweepFunction": {
		"ALLOWED_APP_IDS":    "d1abc23,d4def56",
		"JOBS_QUEUE_URL":     localQueueURL("JobsQueue"),
		"WAITING_QUEUE_URL":  localQueueURL("WaitingQueue"),
		"STATE_TABLE":        "jobwatch-local-StateTable",
		"DEADLINE":           "6h",
		"INITIAL_POLL_DELAY": "10s",
		"LOG_LEVEL":          "INFO",
		"METRICS_NAMESPACE":  "jobwatch",
	},
	"NotifyFunction": {
		"EVENT_BUS_NAME":                    "jobwatch-local",
		"EVENT_SOURCE":                      "jobwatch.amplifybackend",
		"ACCOUNT_ID":                        "123456789012",
		"LOG_LEVEL":                         "INFO",
		"METRICS_NAMESPACE":                 "jobwatch",
		"SNS_TOPIC_ARN":                     "arn:aws:sns:us-east-1:123456789012:jobwatch-local-NotificationTopic",
		"SNS_STATUSES":                      "COMPLETED,FAILED,TIMED_OUT,LOST,STILL_RUNNING",
		"SLACK_STATUSES":                    "COMPLETED,FAILED,TIMED_OUT,LOST",
		"STATE_TABLE":                       "jobwatch-local-StateTable",
		"COMPLETIONS_QUEUE_URL":             localQueueURL("CompletionsQueue"),
		"COMPLETIONS_DEAD_LETTER_QUEUE_URL": localQueueURL("CompletionsDeadLetterQueue"),
	},
}

// localQueueURL is the URL localFacts gives the queue.
func localQueueURL(id string) string { return "http://127.0.0.1:4566/123456789012/" + id }

// TestProjectTemplateEnvironment pins the environment each function starts
// with: the names its configuration reads and where each value comes from.
func TestProjectTemplateEnvironment(t *testing.T) {
	app := loadProjectTemplate(t)
	tests := map[string]struct {
		params map[string]string
		// changed are the variables that differ from defaultEnvironment.
		changed map[string]map[string]string
	}{
		"defaults": {params: map[string]string{"AllowedAppIds": "d1abc23,d4def56"}},
		"overrides": {
			params: map[string]string{
				"AllowedAppIds": "d9zz", "EventSource": "acme.jobs", "JobDeadline": "90m", "WaitDeadline": "2h",
				"PollPolicy": "fixed-2s", "LogLevel": "DEBUG",
				"SlackWebhookParameter": "ssm:/jobwatch/slack-webhook", "SlackStatuses": "FAILED,STILL_RUNNING", "SnsStatuses": "FAILED",
				"NotificationEmail": "ops@example.com", "NotificationEmailStatuses": "FAILED,LOST",
			},
			changed: map[string]map[string]string{
				"SubmitFunction": {"ALLOWED_APP_IDS": "d9zz", "DEADLINE": "90m", "WAIT_DEADLINE": "2h", "LOG_LEVEL": "DEBUG"},
				"PollFunction":   {"ALLOWED_APP_IDS": "d9zz", "POLL_POLICY": "fixed-2s", "LOG_LEVEL": "DEBUG"},
				"SweepFunction":  {"ALLOWED_APP_IDS": "d9zz", "DEADLINE": "90m", "LOG_LEVEL": "DEBUG"},
				"NotifyFunction": {"EVENT_SOURCE": "acme.jobs", "LOG_LEVEL": "DEBUG", "SNS_STATUSES": "FAILED",
					"SLACK_WEBHOOK_PARAMETER": "ssm:/jobwatch/slack-webhook", "SLACK_STATUSES": "FAILED,STILL_RUNNING"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustResolver(t, app, localFacts(t, app, tc.params))
			for id, defaults := range defaultEnvironment {
				want := maps.Clone(defaults)
				maps.Copy(want, tc.changed[id])
				env, err := r.Environment(mustFunction(t, app, id))
				if err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				if !reflect.DeepEqual(env, want) {
					t.Errorf("%s environment =\n%v\nwant\n%v", id, env, want)
				}
			}
		})
	}
}

func TestProjectTemplateParameters(t *testing.T) {
	app := loadProjectTemplate(t)
	tests := map[string]struct {
		params  map[string]string
		wantErr string
	}{
		"app ids are required":   {nil, "parameter AllowedAppIds: has no value"},
		"app ids look like apps": {map[string]string{"AllowedAppIds": "d1abc23,*"}, `parameter AllowedAppIds: is "*"`},
		"no empty app id":        {map[string]string{"AllowedAppIds": ""}, `parameter AllowedAppIds: is ""`},
		"known poll policies":    {map[string]string{"AllowedAppIds": "d1", "PollPolicy": "fast"}, "parameter PollPolicy: is \"fast\"; want one of jobwatch, jobwatch-economy, fixed-2s, fixed-10s, waiter-2s-120s"},
		"deadline is a duration": {map[string]string{"AllowedAppIds": "d1", "JobDeadline": "6 hours"}, "parameter JobDeadline"},
		"log levels":             {map[string]string{"AllowedAppIds": "d1", "LogLevel": "TRACE"}, "parameter LogLevel"},
		"webhook by name, not URL": {map[string]string{"AllowedAppIds": "d1", "SlackWebhookParameter": "https://hooks.slack.com/services/T/B/x"},
			"parameter SlackWebhookParameter"},
		"webhook in a known store": {map[string]string{"AllowedAppIds": "d1", "SlackWebhookParameter": "vault:slack"}, "parameter SlackWebhookParameter"},
		"SSM names start with /":   {map[string]string{"AllowedAppIds": "d1", "SlackWebhookParameter": "ssm:slack"}, "parameter SlackWebhookParameter"},
		"secret by name, not ARN": {map[string]string{"AllowedAppIds": "d1", "SlackWebhookParameter": "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:x"},
			"parameter SlackWebhookParameter"},
		"known Slack statuses": {map[string]string{"AllowedAppIds": "d1", "SlackStatuses": "FAILED,DONE"}, "parameter SlackStatuses"},
		"known SNS statuses":   {map[string]string{"AllowedAppIds": "d1", "SnsStatuses": ""}, "parameter SnsStatuses"},
		"an email address":     {map[string]string{"AllowedAppIds": "d1", "NotificationEmail": "ops"}, "parameter NotificationEmail"},
		"email statuses":       {map[string]string{"AllowedAppIds": "d1", "NotificationEmailStatuses": "FAILED,BAD"}, `parameter NotificationEmailStatuses: is "BAD"`},
		"notifications valid": {map[string]string{"AllowedAppIds": "d1", "SlackWebhookParameter": "secretsmanager:jobwatch/slack",
			"SlackStatuses": "FAILED", "SnsStatuses": "FAILED,TIMED_OUT", "NotificationEmail": "ops@example.com", "NotificationEmailStatuses": "LOST"}, ""},
		"valid": {map[string]string{"AllowedAppIds": "d1abc23", "JobDeadline": "1h30m", "WaitDeadline": "45m"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := app.NewResolver(Facts{Parameters: tc.params})
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("NewResolver: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewResolver error = %v; want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestProjectTemplateWiring checks what `jobwatch local` recreates: which
// queue feeds which function and how, the rule, the redrive policies, the
// state table.
func TestProjectTemplateWiring(t *testing.T) {
	app := loadProjectTemplate(t)
	consumers := map[string]string{}
	for _, f := range app.Functions {
		for _, ev := range f.SQSEvents {
			consumers[ev.QueueID] = f.LogicalID
			if !ev.ReportBatchItemFailures || ev.MaximumConcurrency < 2 || ev.BatchSize < 1 || ev.BatchSize > 10 || !ev.Enabled {
				t.Errorf("%s event %s = %+v; want ReportBatchItemFailures, MaximumConcurrency >= 2, a batch of 1 to 10", f.LogicalID, ev.Name, ev)
			}
			q, _ := app.Queue(ev.QueueID)
			if q.VisibilityTimeout < 6*f.Timeout {
				t.Errorf("%s: visibility timeout %v < 6 x %s's timeout %v", q.LogicalID, q.VisibilityTimeout, f.LogicalID, f.Timeout)
			}
		}
	}
	want := map[string]string{"JobsQueue": "PollFunction", "CompletionsQueue": "NotifyFunction", "WaitingQueue": "SubmitFunction"}
	if !reflect.DeepEqual(consumers, want) {
		t.Errorf("queue consumers = %v; want %v", consumers, want)
	}

	submit := mustFunction(t, app, "SubmitFunction")
	if len(submit.EventBridgeRules) != 1 {
		t.Fatalf("SubmitFunction rules = %+v; want one", submit.EventBridgeRules)
	}
	rule := submit.EventBridgeRules[0]
	if rule.EventBusID != "EventBus" || rule.DeadLetterQueueID == "" || rule.MaximumRetryAttempts == nil {
		t.Errorf("rule = %+v; want it on EventBus with a retry policy and a dead-letter queue", rule)
	}
	if got := rule.Pattern.String(); got != `{"detail-type":["Amplify Backend Job Requested"]}` {
		t.Errorf("rule pattern = %s", got)
	}
	c := submit.EventInvokeConfig
	if c == nil || c.MaximumRetryAttempts == nil || *c.MaximumRetryAttempts != 2 || c.OnFailure == nil || c.OnFailure.DestinationID != "SubmitFailuresQueue" {
		t.Errorf("SubmitFunction EventInvokeConfig = %+v; want 2 retries, then SubmitFailuresQueue", c)
	}

	deadLetters := map[string]bool{rule.DeadLetterQueueID: true}
	for _, q := range app.Queues {
		if q.DeadLetterQueueID != "" {
			deadLetters[q.DeadLetterQueueID] = true
		}
	}
	for i, q := range app.Queues {
		if !q.SQSManagedSSE || q.FIFO {
			t.Errorf("%s: SSE %v, FIFO %v; want SQS-managed SSE on a standard queue", q.LogicalID, q.SQSManagedSSE, q.FIFO)
		}
		if deadLetters[q.LogicalID] {
			if q.MessageRetention != 14*24*time.Hour || q.DeadLetterQueueID != "" {
				t.Errorf("dead-letter queue %s: retention %v, redrive to %q; want 14 days and none", q.LogicalID, q.MessageRetention, q.DeadLetterQueueID)
			}
			continue
		}
		if q.MaxReceiveCount < 5 {
			t.Errorf("%s: maxReceiveCount %d; want >= 5 (to %s)", q.LogicalID, q.MaxReceiveCount, q.DeadLetterQueueID)
		}
		for _, earlier := range app.Queues[i+1:] {
			if earlier.LogicalID == q.DeadLetterQueueID {
				t.Errorf("%s comes before its dead-letter queue %s", q.LogicalID, earlier.LogicalID)
			}
		}
	}

	table, ok := app.Table("StateTable")
	wantTable := &Table{LogicalID: "StateTable", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"pk", "S", "HASH"}},
		TTLAttribute: "expiresAt", PointInTimeRecovery: true, SSE: true}
	if !ok || !reflect.DeepEqual(table, wantTable) {
		t.Errorf("StateTable = %+v; want %+v", table, wantTable)
	}
}

// TestProjectGoPackages checks that the Makefile targets `sam build` runs
// build the functions' packages.
func TestProjectGoPackages(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	app := loadProjectTemplate(t)
	want := map[string]string{
		"SubmitFunction": "./functions/submit",
		"PollFunction":   "./functions/poll",
		"NotifyFunction": "./functions/notify",
	}
	for id, pkg := range want {
		got, err := mustFunction(t, app, id).GoPackage()
		if err != nil || got != pkg {
			t.Errorf("%s GoPackage() = %q, %v; want %q", id, got, err, pkg)
		}
	}
}
