package notify

import (
	"context"

	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
)

// Options say what a Notifier does with a message it could not deliver to
// every sink. A transient failure (a sink throttled, down or slow, a claim
// another invocation holds) costs time, not the message: a delayed copy
// replaces it on the completions queue and the original is deleted, so
// that the queue's receive count is left for poison. Poison (a message
// that does not decode, a change a sink refuses for good, such as a Slack
// webhook gone) goes to the dead-letter queue at once, the problem named
// in its jobwatch.problem attribute. The sinks that delivered a change
// remember it (Deduplicate), so a copy or a redrive reaches only the
// others.
type Options struct {
	// SQS sends the copies and the poison; *sqs.Client is one. Without
	// it, every message not delivered is left for redelivery.
	SQS queue.API
	// QueueURL is the completions queue, which takes the copies; empty:
	// such messages are left for redelivery (batch item failures).
	QueueURL string
	// DeadLetterURL is the completions queue's dead-letter queue; empty:
	// poison is left for redelivery, reaching it after maxReceiveCount
	// receives.
	DeadLetterURL string
	// Retry shapes the copies' delay (by default from 5s, at most 5m).
	Retry queue.Retry
	// Metrics receives Backoffs (Function notify, Reason).
	Metrics *metrics.Recorder
}

// settle sends a delayed copy of each message whose failures were all
// transient and parks the others, as far as the Options allow, and
// returns, in the order received, the ids of the messages left for
// redelivery: those it could not settle.
func (n *Notifier) settle(ctx context.Context, msgs []queue.Message, problems map[string][]error) []string {
	left := map[string]bool{}
	var later, parked []queue.Outgoing
	var laterIDs, parkedIDs, causes []string
	for _, m := range msgs {
		errs, ok := problems[m.ID]
		if !ok {
			continue
		}
		refused := firstRefusal(errs)
		switch {
		case refused == nil && n.o.QueueURL != "":
			later, laterIDs = append(later, n.o.Retry.Later(m)), append(laterIDs, m.ID)
			causes = append(causes, queue.Cause(errs[0]))
		case refused != nil && n.o.DeadLetterURL != "":
			parked, parkedIDs = append(parked, queue.Parked(m, refused.Error())), append(parkedIDs, m.ID)
		default:
			left[m.ID] = true
		}
	}
	for i, err := range n.send(ctx, n.o.QueueURL, later) {
		if err != nil {
			left[laterIDs[i]] = true
			continue
		}
		n.log.WarnContext(ctx, "a delayed copy of the message will try again", "messageId", laterIDs[i], "cause", causes[i],
			"attempt", later[i].Attempt, "delay", later[i].Delay.String())
		n.o.Metrics.Count(metrics.Backoffs, metrics.Dims{"Function": "notify", "Reason": causes[i]})
	}
	for i, err := range n.send(ctx, n.o.DeadLetterURL, parked) {
		if err != nil {
			left[parkedIDs[i]] = true
			continue
		}
		n.log.ErrorContext(ctx, "message parked in the dead-letter queue", "messageId", parkedIDs[i], "problem", parked[i].Problem)
	}
	var failed []string
	for _, m := range msgs {
		if left[m.ID] {
			failed = append(failed, m.ID)
		}
	}
	return failed
}

// send sends msgs to queueURL, returning each one's error.
func (n *Notifier) send(ctx context.Context, queueURL string, msgs []queue.Outgoing) []error {
	if len(msgs) == 0 {
		return nil
	}
	_, errs := n.sender.Send(ctx, queueURL, msgs)
	for _, err := range errs {
		if err != nil {
			n.log.ErrorContext(ctx, "message not sent; the completion message will be redelivered", "queueUrl", queueURL, "error", err.Error())
		}
	}
	return errs
}

// firstRefusal is the first of errs that no later attempt can cure, nil
// when every one is transient.
func firstRefusal(errs []error) error {
	for _, err := range errs {
		if !queue.Transient(err) {
			return err
		}
	}
	return nil
}
