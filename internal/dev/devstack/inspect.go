package devstack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
)

// Depth is how many messages a queue holds: visible, in flight and
// delayed.
func (st *State) Depth(ctx context.Context, url string) (int, error) {
	out, err := sqs.NewFromConfig(st.AWS()).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %w", url, err)
	}
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n, nil
}

// InFlight is how many messages the queues the functions consume, the
// rules' invocation queues and the watch queues hold: work not done yet,
// or deliveries not yet seen.
func (st *State) InFlight(ctx context.Context) (int, error) {
	var urls []string
	for _, id := range slices.Sorted(maps.Keys(st.Stack.Functions)) {
		for _, src := range st.Stack.Functions[id].SQS {
			urls = append(urls, src.Queue.URL)
		}
	}
	for _, r := range st.Stack.Rules {
		urls = append(urls, r.Target.URL)
	}
	urls = append(urls, st.Watch.Events.URL, st.Watch.SNS.URL)
	total := 0
	for _, u := range urls {
		if u == "" {
			continue
		}
		n, err := st.Depth(ctx, u)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Quiesce waits until nothing is in flight (twice in a row, a second
// apart), for at most limit.
func (st *State) Quiesce(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for empty := 0; empty < 2; {
		if time.Now().After(deadline) {
			return fmt.Errorf("messages remain after %s", limit)
		}
		lambdasim.Sleep(ctx, time.Second)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, err := st.InFlight(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			empty++
		} else {
			empty = 0
		}
	}
	return nil
}

// DeadLetters counts the messages in every queue of the template no
// function consumes: the dead-letter queues and the on-failure
// destinations, where work that did not get done is parked. samples holds
// the start of one message of each queue that is not empty.
func (st *State) DeadLetters(ctx context.Context) (counts map[string]int, samples map[string]string, err error) {
	consumed := map[string]bool{}
	for _, fn := range st.Stack.Functions {
		for _, src := range fn.SQS {
			consumed[src.Queue.LogicalID] = true
		}
	}
	c := sqs.NewFromConfig(st.AWS())
	counts, samples = map[string]int{}, map[string]string{}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(st.Stack.Queues)) {
		if consumed[id] {
			continue
		}
		q := st.Stack.Queues[id]
		n, err := st.Depth(ctx, q.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		counts[id] = n
		if n == 0 {
			continue
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 1, VisibilityTimeout: 0})
		if err == nil && len(out.Messages) > 0 {
			body := aws.ToString(out.Messages[0].Body)
			samples[id] = body[:min(len(body), 400)]
		}
	}
	return counts, samples, errors.Join(errs...)
}
