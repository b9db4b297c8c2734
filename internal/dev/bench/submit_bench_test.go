package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/ddbmem"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
	"github.com/jobwatch/jobwatch/internal/submit"
)

// The submit function's per-message cost, with in-process fakes for the
// Admin API and SQS, and the state store over an in-memory table (ddbmem).
// (It lives here because the submit package is another engineer's; the
// other functions' benchmarks are internal/poll's and internal/notify's
// bench_test.go.)

// nopSQS accepts every message.
type nopSQS struct{}

func (nopSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("0")})
	}
	return out, nil
}

func newBenchSubmitter(b *testing.B) *submit.Submitter {
	started := func(_ context.Context, op *amplify.Operation, _ any) (any, error) {
		return &amplify.CloneBackendOutput{JobId: aws.String("11111111-2222-4333-8444-555555555555"), Status: aws.String("RUNNING"),
			Operation: aws.String(op.Name)}, nil
	}
	s, err := submit.New(submit.Config{
		JobsQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", WaitingQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/waiting",
		CompletionsQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/completions", StateTable: "jobwatch-state",
		SubmitFailuresQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/submit-failures", AllowedAppIDs: []string{"d1abc23"},
		Deadline: 6 * time.Hour, WaitDeadline: 6 * time.Hour, InitialPollDelay: 10 * time.Second, WaitRetryDelay: 30 * time.Second,
	}, submit.Clients{AdminAPI: started, Jobs: amplify.New(amplify.Options{Region: "us-east-1"}), SQS: nopSQS{},
		State: state.New(ddbmem.New("pk"), "jobwatch-state", state.Options{})},
		time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// envName is the i-th environment name, in Amplify's rule (lowercase
// letters only).
func envName(i int) string {
	b := []byte("env")
	for ; i > 0 || len(b) == 3; i /= 26 {
		b = append(b, byte('a'+i%26))
	}
	return string(b)
}

func cloneRequest(id, env string) contract.JobRequest {
	input, _ := json.Marshal(map[string]string{"AppId": "d1abc23", "BackendEnvironmentName": env, "TargetEnvironmentName": "prtest"})
	return contract.JobRequest{Operation: "CloneBackend", Input: input, RequestID: id}
}

// BenchmarkSubmit reports the cost of one job request: a new one on a
// free environment (records, the Admin API call, the tracking message),
// a repeated one (answered from its record), and a wake-up for an empty
// line.
func BenchmarkSubmit(b *testing.B) {
	ctx := context.Background()
	b.Run("new", func(b *testing.B) {
		s := newBenchSubmitter(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Submit(ctx, cloneRequest(fmt.Sprintf("req-%d", i), envName(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("repeated", func(b *testing.B) {
		s := newBenchSubmitter(b)
		req := cloneRequest("req-1", "dev")
		if _, err := s.Submit(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Submit(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wake-up/empty-line", func(b *testing.B) {
		s := newBenchSubmitter(b)
		body, _ := json.Marshal(contract.Wakeup{Version: contract.WakeupVersion, AppID: "d1abc23", BackendEnvironmentName: "dev"})
		msgs := []queue.Message{{ID: "msg-1", Body: string(body)}}
		b.ReportAllocs()
		for b.Loop() {
			if failed := s.Wake(ctx, msgs); len(failed) > 0 {
				b.Fatal("the wake-up failed")
			}
		}
	})
}
