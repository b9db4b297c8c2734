package poll

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// HandleSQS is the Lambda handler for the jobs queue's event source
// mapping (with ReportBatchItemFailures): the messages it names stay on
// the queue for redelivery, the others are deleted by Lambda.
func (p *Poller) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	msgs := make([]Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = Message{ID: r.MessageId, Body: r.Body}
	}
	res := p.Handle(ctx, msgs)
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, id := range res.Failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	p.cfg.Logger.InfoContext(ctx, "batch done", "messages", len(msgs), "completed", res.Completed,
		"requeued", res.Requeued, "failed", len(res.Failed), "lookups", res.Lookups)
	return resp, nil
}
