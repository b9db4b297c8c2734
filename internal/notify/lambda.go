package notify

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobwatch/jobwatch/internal/queue"
)

// reserve is kept back from the Lambda deadline so that a slow sink still
// leaves time to answer with the batch's item failures; a timed-out
// invocation would redeliver the whole batch, delivered changes included.
const reserve = time.Second

// HandleSQS is the Lambda handler for the completions queue's event
// source mapping (FunctionResponseTypes: ReportBatchItemFailures). It
// never fails the whole batch: each message to redeliver is named in
// BatchItemFailures.
func (n *Notifier) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 2*reserve {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	msgs := queue.Messages(ev)
	failed := n.Notify(ctx, msgs)
	n.log.InfoContext(ctx, "batch done", "messages", len(msgs), "redeliver", len(failed))
	return queue.Response(failed), nil
}
