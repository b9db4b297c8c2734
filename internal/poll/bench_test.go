package poll

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// The benchmarks measure Handle's own cost per message: the Admin API and
// SQS are in-process fakes that answer at once and keep nothing.

var benchNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// benchAPI answers every lookup with status, created 5 minutes ago.
type benchAPI struct{ status string }

func (a benchAPI) job(id string) (status, createTime, updateTime *string) {
	created := benchNow.Add(-5 * time.Minute).Format(time.RFC3339)
	updated := created
	if a.status != amplify.JobStatusRunning {
		updated = benchNow.Add(-time.Second).Format(time.RFC3339)
	}
	return aws.String(a.status), &created, &updated
}

func (a benchAPI) GetBackendJob(_ context.Context, in *amplify.GetBackendJobInput, _ ...func(*amplify.Options)) (*amplify.GetBackendJobOutput, error) {
	status, created, updated := a.job(aws.ToString(in.JobId))
	return &amplify.GetBackendJobOutput{AppId: in.AppId, BackendEnvironmentName: in.BackendEnvironmentName, JobId: in.JobId,
		Operation: aws.String("CloneBackend"), Status: status, CreateTime: created, UpdateTime: updated}, nil
}

func (a benchAPI) ListBackendJobs(_ context.Context, in *amplify.ListBackendJobsInput, _ ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error) {
	out := &amplify.ListBackendJobsOutput{}
	for i := range 10 {
		id := fmt.Sprintf("job-%d", i)
		status, created, updated := a.job(id)
		out.Jobs = append(out.Jobs, types.BackendJobRespObj{AppId: in.AppId, BackendEnvironmentName: in.BackendEnvironmentName,
			JobId: aws.String(id), Operation: aws.String("CloneBackend"), Status: status, CreateTime: created, UpdateTime: updated})
	}
	return out, nil
}

// benchQueue accepts every message.
type benchQueue struct{}

func (benchQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	return out, nil
}

// benchBatch returns n tracking messages, each of its own environment
// unless sameEnv.
func benchBatch(b *testing.B, n int, sameEnv bool) []queue.Message {
	msgs := make([]queue.Message, n)
	for i := range msgs {
		env := fmt.Sprintf("env%d", i)
		if sameEnv {
			env = "dev"
		}
		body, err := json.Marshal(contract.TrackingMessage{
			Version: contract.TrackingVersion, AppID: "d1abc23", BackendEnvironmentName: env, JobID: fmt.Sprintf("job-%d", i),
			Operation: "CloneBackend", RequestID: fmt.Sprintf("req-%d", i), SubmittedAt: benchNow.Add(-5 * time.Minute),
			Deadline: benchNow.Add(6 * time.Hour), Polls: 3, LastStatus: amplify.JobStatusRunning,
		})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = queue.Message{ID: fmt.Sprintf("msg-%d", i), Body: string(body)}
	}
	return msgs
}

// BenchmarkHandle reports Handle's cost per message (ns/msg) for batches
// of running jobs (re-queued), of ended jobs (status change and wake-up),
// and of jobs of one environment (one ListBackendJobs call).
func BenchmarkHandle(b *testing.B) {
	tests := map[string]struct {
		status  string
		n       int
		sameEnv bool
	}{
		"running/1":          {amplify.JobStatusRunning, 1, false},
		"running/10":         {amplify.JobStatusRunning, 10, false},
		"completed/1":        {amplify.JobStatusCompleted, 1, false},
		"completed/10":       {amplify.JobStatusCompleted, 10, false},
		"running/10-one-env": {amplify.JobStatusRunning, 10, true},
	}
	for name, tc := range tests {
		b.Run(name, func(b *testing.B) {
			p := New(Config{
				JobsQueueURL: "jobs", CompletionsQueueURL: "completions", WaitingQueueURL: "waiting",
				NotFoundGrace: 2 * time.Minute, Policy: schedule.NewAdaptive(schedule.Default),
				Now: func() time.Time { return benchNow },
			}, benchAPI{status: tc.status}, benchQueue{})
			msgs := benchBatch(b, tc.n, tc.sameEnv)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if res := p.Handle(ctx, msgs); len(res.Failed) > 0 {
					b.Fatalf("%d messages failed", len(res.Failed))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.n), "ns/msg")
		})
	}
}
