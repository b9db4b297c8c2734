package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// benchBus accepts every entry and keeps nothing, so that the benchmark
// measures the notifier and the sink, not a fake's bookkeeping.
type benchBus struct{}

func (benchBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out := &eventbridge.PutEventsOutput{Entries: make([]types.PutEventsResultEntry, len(in.Entries))}
	for i := range out.Entries {
		out.Entries[i].EventId = aws.String("11111111-2222-3333-4444-555555555555")
	}
	return out, nil
}

// BenchmarkNotify reports Notify's cost per message (ns/msg) with the
// EventBridge sink over an in-process bus, for a batch of one and a full
// batch of ten (one PutEvents call).
func BenchmarkNotify(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	sink := NewEventBridge(benchBus{}, EventBridgeOptions{BusName: "jobwatch", Source: contract.DefaultEventSource,
		Region: "us-east-1", Account: "123456789012", Logger: log})
	n := New(log, sink)
	for _, size := range []int{1, 10} {
		b.Run(fmt.Sprintf("eventbridge/%d", size), func(b *testing.B) {
			msgs := make([]queue.Message, size)
			for i := range msgs {
				body, err := json.Marshal(change(i+1, contract.StatusCompleted))
				if err != nil {
					b.Fatal(err)
				}
				msgs[i] = queue.Message{ID: fmt.Sprintf("msg-%d", i+1), Body: string(body)}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if failed := n.Notify(ctx, msgs); len(failed) > 0 {
					b.Fatalf("%d messages failed", len(failed))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/msg")
		})
	}
}
