package submit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/state"
)

// deadEnd answers every call with an error: the fuzz target exercises the
// decoding and validation in front of the services, never the services.
type deadEnd struct{}

var errDead = errors.New("no service in a fuzz run")

func (deadEnd) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, errDead
}

func (deadEnd) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errDead
}

func (deadEnd) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errDead
}

func (deadEnd) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errDead
}

func (deadEnd) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errDead
}

func (deadEnd) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, errDead
}

func (deadEnd) ListBackendJobs(context.Context, *amplify.ListBackendJobsInput, ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error) {
	return nil, errDead
}

// FuzzHandleLambda feeds submit's handler arbitrary payloads, seeded from
// events/submit: it must never panic, and every refusal must be an error
// with something to say.
func FuzzHandleLambda(f *testing.F) {
	files, _ := filepath.Glob("../../events/submit/*.json")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		f.Add(raw)
	}
	s, err := New(Config{
		JobsQueueURL: "https://sqs.us-east-1.amazonaws.com/1/jobs", WaitingQueueURL: "https://sqs.us-east-1.amazonaws.com/1/waiting",
		CompletionsQueueURL: "https://sqs.us-east-1.amazonaws.com/1/completions", StateTable: "state",
		SubmitFailuresQueueURL: "https://sqs.us-east-1.amazonaws.com/1/submit-failures",
		Deadline:               time.Hour, WaitDeadline: time.Hour, WaitRetryDelay: time.Minute, AllowedAppIDs: []string{"d1abc23"},
	}, Clients{
		AdminAPI: func(context.Context, *amplify.Operation, any) (any, error) { return nil, errDead },
		Jobs:     deadEnd{}, SQS: deadEnd{}, State: state.New(deadEnd{}, "state", state.Options{}),
	}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := s.HandleLambda(context.Background(), json.RawMessage(payload))
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
		if err == nil && out == nil {
			t.Fatal("no answer and no error")
		}
	})
}
