package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/state"
)

// faultyStore is the state store with faults: an advance that never
// happens (the function died after sending the next message, before
// recording it), or chains that cannot be read for the time being.
type faultyStore struct {
	*state.Store
	crash     bool
	chainsErr error
}

func (f *faultyStore) AdvanceChain(ctx context.Context, k state.JobKey, from, to state.Step, seen *state.Lookup) error {
	if f.crash {
		return errors.New("the process died")
	}
	return f.Store.AdvanceChain(ctx, k, from, to, seen)
}

func (f *faultyStore) Chains(ctx context.Context, keys []state.JobKey) (map[state.JobKey]state.Chain, error) {
	if f.chainsErr != nil {
		return nil, f.chainsErr
	}
	return f.Store.Chains(ctx, keys)
}

// TestCrashBetweenSendAndAdvance kills poll between sending a job's next
// message and advancing its chain: the original, not deleted, comes back,
// and so does the next message. Whichever order they come in, one at a
// time or in one batch, exactly one message follows the job on, at the
// step its record holds.
func TestCrashBetweenSendAndAdvance(t *testing.T) {
	for name, order := range map[string][]string{
		"original first":  {"original", "next"},
		"next first":      {"next", "original"},
		"both in a batch": {"next original"},
		"original, batch": {"original next"},
	} {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, 1, 30*time.Minute, 30, emulator.Faults{})
			first := s.startJob("dev0")
			s.send(1, first)
			original := s.receive(s.jobs, 1)
			crashing := &faultyStore{Store: s.store, crash: true}
			if _, err := s.poller(func(c *Config) { c.Tracked = crashing }).HandleSQS(s.ctx, eventOf(original)); err != nil {
				t.Fatal(err)
			}
			// Not deleted: the invocation died. It comes back.
			if _, err := s.sqs.ChangeMessageVisibility(s.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(s.jobs),
				ReceiptHandle: original[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
				t.Fatal(err)
			}
			byRole := map[string]sqstypes.Message{}
			for _, m := range append(s.receive(s.jobs, 10), s.receive(s.jobs, 10)...) {
				role := "next"
				if aws.ToString(m.MessageId) == aws.ToString(original[0].MessageId) {
					role = "original"
				}
				byRole[role] = m
			}
			if len(byRole) != 2 {
				t.Fatalf("after the crash: %v; want the original back and the next message", byRole)
			}
			p := s.poller(nil)
			for _, batch := range order {
				var msgs []sqstypes.Message
				for _, role := range strings.Fields(batch) {
					msgs = append(msgs, byRole[role])
				}
				s.invoke(s.ctx, p, msgs)
			}
			left := s.drain(s.jobs)
			if len(left) != 1 {
				t.Fatalf("%d messages follow the job on, want 1:\n%v", len(left), left)
			}
			chains, err := s.store.Chains(s.ctx, []state.JobKey{state.JobKeyOf(first)})
			if m := decode(t, left[0]); err != nil || chains[state.JobKeyOf(first)].Step != state.StepOf(m) {
				t.Errorf("the record is at %+v (%v); the message left at step %d %q", chains, err, m.Seq, m.SeqID)
			}
		})
	}
}

// TestChainsUnreadable checks a batch whose chains cannot be read for
// the time being (DynamoDB throttling): each message is replaced by a
// delayed copy, unchanged, and none is looked up or left for redelivery.
func TestChainsUnreadable(t *testing.T) {
	s := newStack(t, 1, 30*time.Minute, 30, emulator.Faults{})
	first := s.startJob("dev0")
	s.send(1, first)
	throttled := &faultyStore{Store: s.store, chainsErr: &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("slow down")}}
	resp := s.invoke(s.ctx, s.poller(func(c *Config) { c.Tracked = throttled }), s.receive(s.jobs, 10))
	if len(resp.BatchItemFailures) != 0 || s.emu.Stats().Operations["GetBackendJob"].Calls != 0 {
		t.Fatalf("failures %v, %d lookups; want a copy and no lookup", resp.BatchItemFailures, s.emu.Stats().Operations["GetBackendJob"].Calls)
	}
	copies := s.receive(s.jobs, 10)
	if len(copies) != 1 || copies[0].MessageAttributes[queue.AttemptAttribute].StringValue == nil ||
		aws.ToString(copies[0].MessageAttributes[queue.AttemptAttribute].StringValue) != "1" || decode(t, aws.ToString(copies[0].Body)).Polls != 0 {
		t.Errorf("jobs queue holds %+v; want one copy of the message, attempt 1", copies)
	}
}
