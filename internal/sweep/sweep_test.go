package sweep_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
	"github.com/jobwatch/jobwatch/internal/sweep"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSweep starts jobs outside jobwatch on the emulator, one of them
// already tracked, and checks a sweep starts tracking exactly the others —
// found through GetBackend's environments and ListBackendJobs' pages — and
// a second sweep nothing more.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(testenv.Moto(t))
	emu, err := emulator.Start(emulator.Config{Seed: 3, JobDurations: emulator.FixedDurations(time.Hour, nil),
		State: &emulator.State{Apps: []emulator.StateApp{{AppId: "d1abc23", AppName: "demo", Environments: []string{"dev", "staging", "prod"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	api := amplify.New(amplify.Options{Region: "us-east-1", BaseEndpoint: aws.String(emu.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	var jobs []string
	for _, env := range []string{"dev", "staging"} {
		out, err := api.CloneBackend(ctx, &amplify.CloneBackendInput{AppId: aws.String("d1abc23"), BackendEnvironmentName: aws.String(env),
			TargetEnvironmentName: aws.String(env + "-copy")})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, aws.ToString(out.JobId))
	}

	db, table := testenv.Table(t, "state")
	store := state.New(db, table, state.Options{})
	// The staging job is jobwatch's own: submit already tracks it.
	if _, err := store.TrackJob(ctx, contract.TrackingMessage{Version: 1, AppID: "d1abc23", BackendEnvironmentName: "staging", JobID: jobs[1],
		Operation: "CloneBackend", SubmittedAt: time.Now(), Deadline: time.Now().Add(time.Hour)}, "submit"); err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Name(t, "jobs"))})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sweep.ReadConfig(settings.FromMap(map[string]string{
		"ALLOWED_APP_IDS": "d1abc23", "JOBS_QUEUE_URL": aws.ToString(queue.QueueUrl), "STATE_TABLE": table, "INITIAL_POLL_DELAY": "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	// Jobs younger than MinAge may be jobwatch's own, not yet recorded:
	// left to the next sweep.
	if res, err := sweep.New(c, api, q, store, nil, nil).Sweep(ctx); err != nil || res.Young != 2 || res.Started != 0 {
		t.Fatalf("sweep of young jobs = %+v, %v; want both left alone", res, err)
	}
	later := func() time.Time { return time.Now().Add(c.MinAge) }
	s := sweep.New(c, api, q, store, later, nil)

	res, err := s.Sweep(ctx)
	if err != nil || res.Environments < 3 || res.Running != 2 || res.Started != 1 {
		t.Fatalf("first sweep = %+v, %v; want 2 running jobs, 1 started", res, err)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("tracking messages = %v, %v", out, err)
	}
	m, err := contract.DecodeTrackingMessage([]byte(aws.ToString(out.Messages[0].Body)))
	if err != nil || m.JobID != jobs[0] || m.BackendEnvironmentName != "dev" || m.Operation != "CloneBackend" || m.CreateTime == "" {
		t.Errorf("tracking message = %+v, %v", m, err)
	}
	if res, err := s.Sweep(ctx); err != nil || res.Started != 0 {
		t.Errorf("second sweep = %+v, %v; want nothing new", res, err)
	}
	running, _ := store.RunningJobs(ctx, "d1abc23", "dev")
	if !slices.Equal(running, []string{jobs[0]}) {
		t.Errorf("running on dev = %v", running)
	}
}

func TestReadConfig(t *testing.T) {
	_, err := sweep.ReadConfig(settings.FromMap(map[string]string{"LOG_LEVEL": "LOUD"}))
	for _, want := range []string{"ALLOWED_APP_IDS", "JOBS_QUEUE_URL", "STATE_TABLE", "LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
}
