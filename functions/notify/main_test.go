package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/metrics"
)

// The tests run this test binary as the function: with runMainEnv set,
// TestMain runs main instead of the tests.
const runMainEnv = "JOBWATCH_NOTIFY_RUN_MAIN"

// leakedToken stands for a webhook URL's secret part in a setting.
const leakedToken = "SecretWebhookToken0123456789"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	testenv.Main(m)
}

// function returns the command running main with only env (and the test
// switch) in its environment.
func function(t *testing.T, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{
		runMainEnv + "=1",
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
	}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func TestBadConfigurationFailsAtStart(t *testing.T) {
	for name, tc := range map[string]struct {
		env  []string
		want []string
	}{
		"nothing set": {
			want: []string{"EVENT_BUS_NAME", "ACCOUNT_ID", "AWS_REGION"},
		},
		"bad values": {
			env:  []string{"EVENT_BUS_NAME=jobwatch", "ACCOUNT_ID=12", "AWS_REGION=us-east-1", "EVENT_SOURCE=aws.jobs", "LOG_LEVEL=chatty"},
			want: []string{"ACCOUNT_ID", "EVENT_SOURCE", "LOG_LEVEL"},
		},
		"bad notification settings": {
			env: []string{"EVENT_BUS_NAME=jobwatch", "ACCOUNT_ID=123456789012", "AWS_REGION=us-east-1",
				"SNS_TOPIC_ARN=notifications", "SNS_STATUSES=FAILED,DONE", "SLACK_STATUSES=completed,WARNING",
				// The URL itself where its parameter's name belongs: refused,
				// and not repeated.
				"SLACK_WEBHOOK_PARAMETER=https://hooks.slack.com/services/T0/B0/" + leakedToken},
			want: []string{"SNS_TOPIC_ARN", "SNS_STATUSES", "SLACK_STATUSES", "SLACK_WEBHOOK_PARAMETER"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			cmd, out := function(t, tc.env...)
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
			}
			var line struct{ Level, Msg, Error string }
			if err := json.Unmarshal(out.Bytes(), &line); err != nil {
				t.Fatalf("output is not one JSON log line: %v\n%s", err, out)
			}
			if line.Level != "ERROR" || line.Msg != "bad configuration" {
				t.Errorf("log line = %+v", line)
			}
			for _, name := range tc.want {
				if !strings.Contains(line.Error, "setting "+name+":") {
					t.Errorf("error does not name %s: %s", name, line.Error)
				}
			}
			if strings.Contains(out.String(), leakedToken) {
				t.Errorf("the output shows the webhook URL:\n%s", out)
			}
		})
	}
}

// runtimeAPI is a Lambda Runtime API serving one invocation and
// recording the function's answer.
type runtimeAPI struct {
	events   chan []byte
	response chan string
}

func (r *runtimeAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.Method == http.MethodGet && req.URL.Path == "/2018-06-01/runtime/invocation/next":
		var event []byte
		select {
		case event = <-r.events:
		case <-req.Context().Done(): // one invocation only: hold the next poll
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(30*time.Second).UnixMilli()))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:notify")
		_, _ = w.Write(event)
	case req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/2018-06-01/runtime/"):
		body, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.response <- strings.TrimPrefix(req.URL.Path, "/2018-06-01/runtime/") + " " + string(body)
	default:
		http.NotFound(w, req)
	}
}

// invoke starts the function as Lambda would, with env and test
// credentials for moto at endpoint, sends it event and returns its answer
// and output.
func invoke(t *testing.T, endpoint string, event []byte, env ...string) (string, *bytes.Buffer) {
	t.Helper()
	api := &runtimeAPI{events: make(chan []byte, 1), response: make(chan string, 1)}
	api.events <- event
	srv := httptest.NewServer(api)
	defer srv.Close()

	cmd, out := function(t, append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
		"ACCOUNT_ID=" + testenv.Account, "AWS_REGION=" + testenv.Region,
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
	}, env...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got string
	select {
	case got = <-api.response:
	case <-time.After(20 * time.Second):
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return strings.TrimSpace(got), out
}

// createBus creates an event bus in moto.
func createBus(t *testing.T, cfg aws.Config) string {
	t.Helper()
	bus := testenv.Name(t, "notify-main")
	if _, err := eventbridge.NewFromConfig(cfg).CreateEventBus(t.Context(),
		&eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	return bus
}

// TestInvocation starts the function as Lambda would, against moto, and
// sends it a batch with a bad message among good ones: it answers with
// that message alone as a batch item failure.
func TestInvocation(t *testing.T) {
	endpoint := testenv.Moto(t)
	bus := createBus(t, testenv.AWSConfig(endpoint))
	event, err := os.ReadFile("../../events/notify/bad-mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	got, out := invoke(t, endpoint, event, "EVENT_BUS_NAME="+bus, "METRICS_NAMESPACE=jobwatch-main")
	want := `invocation/req-1/response {"batchItemFailures":[{"itemIdentifier":"bad00000-0000-4000-8000-000000000006"}]}`
	if got != want {
		t.Fatalf("function answered %q\nwant %s\noutput:\n%s", got, want, out)
	}
	checkMetrics(t, out.String(), map[string]float64{
		"JobsEnded Operation=UpdateBackendAuth,Status=COMPLETED": 1, "JobsEnded Operation=DeleteBackend,Status=FAILED": 1,
		"Notifications Sink=eventbridge": 2,
	})

	// Its log lines are JSON, carry the invocation's request id, and the
	// ones about a job name it.
	published := 0
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil {
			continue // the runtime client's own lines
		}
		if line["msg"] == "status change published" {
			published++
			if line["awsRequestId"] != "req-1" || line["appId"] != "d4mix01" || line["jobId"] == nil {
				t.Errorf("log line lacks request id or job: %s", l)
			}
		}
	}
	if published != 2 {
		t.Errorf("%d published lines, want 2; output:\n%s", published, out)
	}
}

// TestInvocationAllSinks runs the function with SNS and Slack on, the
// webhook URL in a Secrets Manager secret ({"url": …}) and Slack's
// stand-in behind it: both good messages reach the bus, the topic and
// Slack, and the function's output never shows the webhook URL.
func TestInvocationAllSinks(t *testing.T) {
	endpoint := testenv.Moto(t)
	cfg := testenv.AWSConfig(endpoint)
	bus := createBus(t, cfg)
	topic, err := sns.NewFromConfig(cfg).CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String(testenv.Name(t, "notify-main"))})
	if err != nil {
		t.Fatal(err)
	}
	slackSrv := slacktest.NewServer()
	defer slackSrv.Close()
	secret := testenv.Name(t, "jobwatch/slack")
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(secret), SecretString: aws.String(`{"url": "` + slackSrv.URL() + `"}`)}); err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile("../../events/notify/bad-mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	got, out := invoke(t, endpoint, event, "EVENT_BUS_NAME="+bus, "LOG_LEVEL=DEBUG",
		"SNS_TOPIC_ARN="+aws.ToString(topic.TopicArn),
		"SLACK_WEBHOOK_PARAMETER=secretsmanager:"+secret, "SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL=true")
	want := `invocation/req-1/response {"batchItemFailures":[{"itemIdentifier":"bad00000-0000-4000-8000-000000000006"}]}`
	if got != want {
		t.Fatalf("function answered %q\nwant %s\noutput:\n%s", got, want, out)
	}
	var texts []string
	for _, m := range slackSrv.Messages() {
		texts = append(texts, m.Text)
	}
	if len(texts) != 2 || !strings.HasPrefix(texts[0], ":white_check_mark: UpdateBackendAuth completed on d4mix01/dev") ||
		!strings.HasPrefix(texts[1], ":x: DeleteBackend failed on d4mix01/dev2") {
		t.Errorf("Slack got %q", texts)
	}
	if !strings.Contains(out.String(), `"msg":"notify starting","sinks":["eventbridge","sns","slack"]`) {
		t.Errorf("the start line does not list the three sinks:\n%s", out)
	}
	if strings.Contains(out.String(), slackSrv.Token()) {
		t.Errorf("the output shows the webhook URL:\n%s", out)
	}
}

// checkMetrics reads the EMF lines among the function's output: each
// valid, in the namespace METRICS_NAMESPACE named, and every metric of
// want there with its total, under its dimensions.
func checkMetrics(t *testing.T, output string, want map[string]float64) {
	t.Helper()
	records, errs := metrics.ScanEMF(strings.NewReader(output))
	if len(errs) > 0 || len(records) == 0 {
		t.Fatalf("EMF lines: %d, problems %v\n%s", len(records), errs, output)
	}
	for _, r := range records {
		for name := range r.Values {
			if r.Namespace != "jobwatch-main" || r.Units[name] != metrics.Names[name].Unit {
				t.Errorf("%s: namespace %q, unit %q", name, r.Namespace, r.Units[name])
			}
		}
	}
	got := metrics.Totals(records)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
