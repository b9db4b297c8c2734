package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/submit"
)

// The submit function's per-message cost, with in-process fakes for the
// Admin API, SQS and the state table. (It lives here because the submit
// package is another engineer's; the other functions' benchmarks are
// internal/poll's and internal/notify's bench_test.go.)

// memTable is a DynamoDB table in memory that understands the two
// conditions submit writes with: attribute_not_exists(pk) and #rev = :rev.
type memTable struct {
	mu    sync.Mutex
	items map[string]map[string]ddbtypes.AttributeValue
}

func (t *memTable) key(k map[string]ddbtypes.AttributeValue) string {
	return k["pk"].(*ddbtypes.AttributeValueMemberS).Value
}

func (t *memTable) holds(cond *string, vals map[string]ddbtypes.AttributeValue, cur map[string]ddbtypes.AttributeValue) bool {
	switch aws.ToString(cond) {
	case "":
		return true
	case "attribute_not_exists(pk)":
		return cur == nil
	case "#rev = :rev":
		rev, ok := cur["rev"].(*ddbtypes.AttributeValueMemberN)
		return ok && rev.Value == vals[":rev"].(*ddbtypes.AttributeValueMemberN).Value
	}
	panic("memTable: condition " + aws.ToString(cond))
}

func (t *memTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: t.items[t.key(in.Key)]}, nil
}

func (t *memTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.key(in.Item)
	if !t.holds(in.ConditionExpression, in.ExpressionAttributeValues, t.items[k]) {
		return nil, &ddbtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	t.items[k] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (t *memTable) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.key(in.Key)
	if !t.holds(in.ConditionExpression, in.ExpressionAttributeValues, t.items[k]) {
		return nil, &ddbtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	delete(t.items, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

// nopSQS accepts every message.
type nopSQS struct{}

func (nopSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{MessageId: aws.String("0")}, nil
}

func newBenchSubmitter(b *testing.B) *submit.Submitter {
	started := func(_ context.Context, op *amplify.Operation, _ any) (any, error) {
		return &amplify.CloneBackendOutput{JobId: aws.String("11111111-2222-4333-8444-555555555555"), Status: aws.String("RUNNING"),
			Operation: aws.String(op.Name)}, nil
	}
	s, err := submit.New(submit.Config{
		JobsQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", WaitingQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/waiting",
		CompletionsQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/completions", StateTable: "jobwatch-state",
		Deadline: 6 * time.Hour, WaitDeadline: 6 * time.Hour, InitialPollDelay: 10 * time.Second, WaitRetryDelay: 30 * time.Second,
	}, submit.Clients{AdminAPI: started, SQS: nopSQS{}, DynamoDB: &memTable{items: map[string]map[string]ddbtypes.AttributeValue{}}},
		time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func cloneRequest(id, env string) contract.JobRequest {
	input, _ := json.Marshal(map[string]string{"AppId": "d1abc23", "BackendEnvironmentName": env, "TargetEnvironmentName": "pr-42"})
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
			if _, err := s.Submit(ctx, cloneRequest(fmt.Sprintf("req-%d", i), fmt.Sprintf("env%d", i))); err != nil {
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
		msgs := []submit.Message{{ID: "msg-1", Body: string(body)}}
		b.ReportAllocs()
		for b.Loop() {
			if failed := s.Wake(ctx, msgs); len(failed) > 0 {
				b.Fatal("the wake-up failed")
			}
		}
	})
}
