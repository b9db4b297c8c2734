package notify

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobwatch/jobwatch/internal/queue"
)

// reserve is kept back from the Lambda deadline so that a slow sink still
// leaves time to settle the messages not delivered and to answer with the
// batch's item failures; a timed-out invocation would redeliver the whole
// batch, delivered changes included.
const reserve = time.Second

// HandleSQS is the Lambda handler for the completions queue's event
// source mapping (FunctionResponseTypes: ReportBatchItemFailures). It
// never fails the whole batch: each message to redeliver is named in
// BatchItemFailures. It writes the batch's metrics before it answers.
func (n *Notifier) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	defer func() {
		if err := n.o.Metrics.Flush(); err != nil {
			n.log.WarnContext(ctx, "could not write the metrics", "error", err.Error())
		}
	}()
	msgs := queue.Messages(ev)
	failed := n.Notify(ctx, msgs)
	n.log.InfoContext(ctx, "batch done", "messages", len(msgs), "redeliver", len(failed))
	return queue.Response(failed), nil
}
