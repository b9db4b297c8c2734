package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// The event source mappings as deployed (template.yaml): Lambda's pollers
// hand each function batches of up to BatchSize messages.
const (
	// esmBatchSize is the BatchSize of all three event source mappings.
	esmBatchSize = 10
	// esmPollers is how many pollers Lambda runs per SQS event source
	// mapping at rest (five for a standard queue).
	esmPollers = 5
	// esmLongPoll is the wait of each poller's ReceiveMessage while the
	// queue is empty (20 s, the longest long poll): an idle mapping makes
	// esmPollers receives per esmLongPoll, messages or not.
	esmLongPoll = 20 * time.Second
	// visibilityTimeout is the queues' VisibilityTimeout: a message left on
	// the queue by a batch item failure is received again after it.
	visibilityTimeout = 180 * time.Second
	// sqsChunk is the payload SQS bills as one request.
	sqsChunk = 64 * 1024
)

// queueID names the simulation's queues; at one instant, messages of a
// lower id are delivered first (a status change reaches notify before the
// wake-up of its environment reaches submit).
type queueID uint8

const (
	completionsQueue queueID = iota
	waitingQueue
	jobsQueue
	numQueues
)

var queueNames = [numQueues]string{"completions", "waiting", "jobs"}

// queueURL is the URL of a simulated queue.
func queueURL(q queueID) string {
	return "https://sqs.us-east-1.amazonaws.com/123456789012/jobwatch-" + queueNames[q]
}

// message is one message on a simulated queue.
type message struct {
	id    uint64
	queue queueID
	body  string
}

// sqsCounts counts one queue's requests, as SQS bills them (a request per
// 64 KB of payload) and as calls.
type sqsCounts struct {
	// SendCalls counts SendMessage and SendMessageBatch calls, Sent their
	// messages.
	SendCalls, Sent int
	// Receives counts the ReceiveMessage calls that returned messages: one
	// per delivered batch. Deletes counts DeleteMessageBatch calls.
	Receives, Deletes int
	// Billed is the requests above as SQS bills them (64 KB chunks).
	Billed int
	// Batches and Delivered count the batches handed to the function and
	// their messages.
	Batches, Delivered int
}

// queueService is the simulated SQS: poll sends through it (poll.Queue),
// and so does the submit model. A message becomes visible DelaySeconds
// after it was sent, as an event of the simulation.
type queueService struct {
	sim    *sim
	byURL  map[string]queueID
	counts [numQueues]sqsCounts
	nextID uint64
}

var _ queue.API = (*queueService)(nil)

func newQueueService(s *sim) *queueService {
	qs := &queueService{sim: s, byURL: map[string]queueID{}}
	for q := range numQueues {
		qs.byURL[queueURL(q)] = q
	}
	return qs
}

// SendMessageBatch implements poll.Queue with SQS's limits: at most 10
// entries with distinct ids, DelaySeconds from 0 to 900.
func (qs *queueService) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q, ok := qs.byURL[aws.ToString(in.QueueUrl)]
	if !ok {
		return nil, &sqstypes.QueueDoesNotExist{Message: aws.String("The specified queue does not exist: " + aws.ToString(in.QueueUrl))}
	}
	switch {
	case len(in.Entries) == 0:
		return nil, &sqstypes.EmptyBatchRequest{Message: aws.String("There should be at least one SendMessageBatchRequestEntry in the request.")}
	case len(in.Entries) > 10:
		return nil, &sqstypes.TooManyEntriesInBatchRequest{Message: aws.String(fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(in.Entries)))}
	}
	seen := map[string]bool{}
	bytes := 0
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if seen[id] {
			return nil, &sqstypes.BatchEntryIdsNotDistinct{Message: aws.String("Id " + id + " repeated.")}
		}
		seen[id] = true
		bytes += len(aws.ToString(e.MessageBody))
	}
	qs.count(q, bytes)
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		delay := time.Duration(e.DelaySeconds) * time.Second
		if e.DelaySeconds < 0 || delay > schedule.MaxSQSDelay {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"), SenderFault: true,
				Message: aws.String(fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.", e.DelaySeconds))})
			continue
		}
		m := qs.put(q, aws.ToString(e.MessageBody), delay)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String(strconv.FormatUint(m.id, 10))})
	}
	return out, nil
}

// send is one SendMessage call of the submit model.
func (qs *queueService) send(q queueID, body string, delay time.Duration) *message {
	qs.count(q, len(body))
	return qs.put(q, body, delay)
}

func (qs *queueService) count(q queueID, bytes int) {
	c := &qs.counts[q]
	c.SendCalls++
	c.Billed += chunks(bytes)
}

// chunks is how many requests SQS bills for a payload.
func chunks(bytes int) int { return max(1, (bytes+sqsChunk-1)/sqsChunk) }

// put enqueues a message, visible after delay.
func (qs *queueService) put(q queueID, body string, delay time.Duration) *message {
	qs.nextID++
	m := &message{id: qs.nextID, queue: q, body: body}
	qs.counts[q].Sent++
	qs.sim.schedule(qs.sim.now+delay, event{kind: evMessage, prio: uint8(q), msg: m})
	if q == completionsQueue {
		qs.sim.emitted(body)
	}
	return m
}

// received takes a delivered batch off the queue: one ReceiveMessage that
// returned it; its DeleteMessageBatch is counted by deleted.
func (qs *queueService) received(q queueID, batch []*message) {
	c := &qs.counts[q]
	c.Batches++
	c.Delivered += len(batch)
	c.Receives++
	bytes := 0
	for _, m := range batch {
		bytes += len(m.body)
	}
	c.Billed += chunks(bytes)
}

// deleted counts the DeleteMessageBatch that Lambda makes after a batch
// for the messages that succeeded (none when all failed).
func (qs *queueService) deleted(q queueID, succeeded int) {
	if succeeded == 0 {
		return
	}
	qs.counts[q].Deletes++
	qs.counts[q].Billed++
}

// redeliver puts a failed message back: it is received again when its
// visibility timeout ends.
func (qs *queueService) redeliver(m *message) {
	qs.sim.schedule(qs.sim.now+visibilityTimeout, event{kind: evMessage, prio: uint8(m.queue), msg: m})
}
