package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/submit"
)

// TestMain runs main itself when asked to, so that a test can start the
// function as a process.
func TestMain(m *testing.M) {
	if os.Getenv("SUBMIT_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	testenv.Main(m)
}

// A bad configuration stops the function at start with a message naming
// every bad setting.
func TestBadSettingsFailAtStart(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SUBMIT_TEST_RUN_MAIN=1",
		"JOBS_QUEUE_URL=", "WAITING_QUEUE_URL=http://127.0.0.1:1/q/waiting", "COMPLETIONS_QUEUE_URL=",
		"STATE_TABLE=", "INITIAL_POLL_DELAY=20m", "LOG_LEVEL=LOUD", "ALLOWED_APP_IDS=", "SUBMIT_FAILURES_QUEUE_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	for _, name := range []string{"JOBS_QUEUE_URL", "COMPLETIONS_QUEUE_URL", "STATE_TABLE", "INITIAL_POLL_DELAY", "LOG_LEVEL",
		"ALLOWED_APP_IDS", "SUBMIT_FAILURES_QUEUE_URL"} {
		if !strings.Contains(stderr.String(), "setting "+name) {
			t.Errorf("stderr does not name %s:\n%s", name, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "setting WAITING_QUEUE_URL") {
		t.Errorf("stderr names the good WAITING_QUEUE_URL:\n%s", stderr.String())
	}
}

// setup wires real clients from the environment: a direct invocation
// reaches the Admin API (the emulator) and the jobs queue (moto).
func TestSetupWiresClients(t *testing.T) {
	endpoint := testenv.Moto(t)
	ctx := testenv.Context(t)
	emu, err := emulator.Start(emulator.Config{State: &emulator.State{Apps: []emulator.StateApp{
		{AppId: "d1abc23", AppName: "demo", Environments: []string{"staging"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_AMPLIFYBACKEND": emu.URL, "AWS_REGION": testenv.Region,
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}

	cfg := testenv.AWSConfig(endpoint)
	sq, db := sqs.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	queue := func(prefix string) string {
		out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(t, prefix))})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl)
	}
	table := testenv.Name(t, "state")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest}); err != nil {
		t.Fatal(err)
	}
	jobs := queue("jobs")
	s, err := setup(ctx, settings.FromMap(map[string]string{
		"JOBS_QUEUE_URL": jobs, "WAITING_QUEUE_URL": queue("waiting"), "COMPLETIONS_QUEUE_URL": queue("completions"),
		"SUBMIT_FAILURES_QUEUE_URL": queue("failures"), "ALLOWED_APP_IDS": "d1abc23",
		"STATE_TABLE": table, "INITIAL_POLL_DELAY": "0", "LOG_LEVEL": "WARN",
	}))
	if err != nil {
		t.Fatal(err)
	}

	payload, err := os.ReadFile("../../events/submit/direct-clone-backend.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.HandleLambda(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	res := out.(submit.Result)
	if res.Status != "RUNNING" || res.RequestID != "cli-pr-43-clone" {
		t.Fatalf("result = %+v", res)
	}
	got, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(jobs), WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("jobs queue: %v, %d messages, want 1", err, len(got.Messages))
	}
	var tm contract.TrackingMessage
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &tm); err != nil || tm.JobID != res.JobID {
		t.Errorf("tracking message %s, want job %s", aws.ToString(got.Messages[0].Body), res.JobID)
	}
	if d := time.Until(tm.Deadline); d < 5*time.Hour || d > 7*time.Hour {
		t.Errorf("deadline in %v, want the default 6h", d)
	}
}
