package poll

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobwatch/jobwatch/internal/queue"
)

// HandleSQS is the Lambda handler for the jobs queue's event source
// mapping (with ReportBatchItemFailures): the messages it names stay on
// the queue for redelivery, the others are deleted by Lambda.
func (p *Poller) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	msgs := queue.Messages(ev)
	res := p.Handle(ctx, msgs)
	resp := queue.Response(res.Failed)
	p.cfg.Logger.InfoContext(ctx, "batch done", "messages", len(msgs), "completed", res.Completed,
		"requeued", res.Requeued, "failed", len(res.Failed), "lookups", res.Lookups)
	return resp, nil
}
