package poll

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobwatch/jobwatch/internal/queue"
)

// HandleSQS is the Lambda handler for the jobs queue's event source
// mapping (with ReportBatchItemFailures): the messages it names stay on
// the queue for redelivery, the others are deleted by Lambda. It takes no
// message with less than Config.Margin left before the invocation's
// deadline (those are handed back as copies), and writes the batch's
// metrics before it answers.
func (p *Poller) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	defer p.flush(ctx)
	msgs := queue.Messages(ev)
	res := p.Handle(ctx, msgs)
	resp := queue.Response(res.Failed)
	p.cfg.Logger.InfoContext(ctx, "batch done", "messages", len(msgs), "completed", res.Completed,
		"requeued", res.Requeued, "failed", len(res.Failed), "lookups", res.Lookups, "retried", res.Retried,
		"handedBack", res.HandedBack, "dropped", res.Dropped, "parked", res.Parked)
	return resp, nil
}

// flush writes the invocation's metrics; a failure costs metrics only.
func (p *Poller) flush(ctx context.Context) {
	if err := p.cfg.Metrics.Flush(); err != nil {
		p.cfg.Logger.WarnContext(ctx, "could not write the metrics", "error", err.Error())
	}
}
