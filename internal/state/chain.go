package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// A job is followed by a chain of tracking messages, each sent by poll
// when it handles the one before. SQS delivers at least once and a sender
// may crash between two writes, so a chain can fork: two messages for one
// job, each going on. The job's record (job#…) holds the chain's current
// step, attributes seq and seqId, so that exactly one message follows the
// job on:
//
//   - poll handles a message only at the record's step (Current), drops
//     one at an earlier step or another message at the same step (Stale:
//     a duplicate, or a fork), and adopts one at a later step (Ahead: its
//     sender sent it but could not advance the record);
//   - to go on it sends the next step first, then advances the record
//     from its step to the next (AdvanceChain, conditional). A crash
//     between the two leaves the record behind: the next step, when it
//     comes, is Ahead and adopted, and the original, redelivered, is
//     Current, goes on, and whichever of the two comes second is Stale.
//
// A record without the attributes is at step 0, which is where the first
// message of a chain is (submit and the sweep send it without a step).

// Step is one step of a job's tracking chain: its number and the id of
// the message holding it. The zero Step is a chain's first.
type Step struct {
	Seq int
	ID  string
}

// StepOf is the step the tracking message m holds.
func StepOf(m contract.TrackingMessage) Step { return Step{Seq: m.Seq, ID: m.SeqID} }

// Chain is what a job's record says of its tracking chain.
type Chain struct {
	// Step is the step the record accepts.
	Step
	// Ended is set once the job was seen to end: no step goes on.
	Ended bool
}

// Place is where a message's step stands against its job's chain.
type Place int

// The places of a step.
const (
	// Current: the message follows the job on.
	Current Place = iota
	// Stale: an earlier step, or another message at the record's step
	// (a duplicate, or a fork a crash left); drop it.
	Stale
	// Ahead: a later step, whose sender could not advance the record;
	// adopt it (AdvanceChain from the record's step to it).
	Ahead
)

// Place tells where step s stands against c.
func (c Chain) Place(s Step) Place {
	switch {
	case s.Seq > c.Seq:
		return Ahead
	case s == c.Step:
		return Current
	}
	return Stale
}

// ErrChainMoved says a job's chain was not at the step an advance started
// from: another message advanced it first.
var ErrChainMoved = errors.New("the job's tracking chain moved meanwhile")

// ErrNotTracked says a job has no record (any more).
var ErrNotTracked = errors.New("the job has no record")

// chainItem is the part of a job# item the chain reads and writes.
type chainItem struct {
	PK    string `dynamodbav:"pk"`
	State string `dynamodbav:"state"`
	Seq   int    `dynamodbav:"seq"`
	SeqID string `dynamodbav:"seqId"`
}

func (c chainItem) chain() Chain {
	return Chain{Step: Step{Seq: c.Seq, ID: c.SeqID}, Ended: c.State == JobDone}
}

// Chains returns the tracking chains of the jobs of keys that have a
// record; a job without one is not in the map.
func (s *Store) Chains(ctx context.Context, keys []JobKey) (map[JobKey]Chain, error) {
	out := map[JobKey]Chain{}
	byPK := map[string]JobKey{}
	var ks []map[string]types.AttributeValue
	for _, k := range keys {
		if _, dup := byPK[k.pk()]; !dup {
			byPK[k.pk()] = k
			ks = append(ks, keyOf(k.pk()))
		}
	}
	expr, err := expression.NewBuilder().WithProjection(projection([]string{"pk", "state", "seq", "seqId"})).Build()
	if err != nil {
		return out, fmt.Errorf("read tracking chains: %w", err)
	}
	for len(ks) > 0 {
		n := min(len(ks), batchGetMax)
		items, err := s.batchGet(ctx, ks[:n], expr)
		if err != nil {
			return out, fmt.Errorf("read tracking chains: %w", err)
		}
		ks = ks[n:]
		for _, item := range items {
			var c chainItem
			if err := attributevalue.UnmarshalMap(item, &c); err != nil {
				return out, fmt.Errorf("read the tracking chain of %s: %w", c.PK, err)
			}
			out[byPK[c.PK]] = c.chain()
		}
	}
	return out, nil
}

// Lookup is one lookup of a job by poll: when, what the service said,
// and the lookups made so far. A job's record keeps the first
// MaxLookups, for `jobwatch jobs show`, and counts the others.
type Lookup struct {
	At     time.Time `dynamodbav:"at" json:"at"`
	Status string    `dynamodbav:"status" json:"status"`
	Polls  int       `dynamodbav:"polls" json:"polls"`
}

// MaxLookups bounds the lookups a job's record keeps, well under
// DynamoDB's 400 KB item size.
const MaxLookups = 200

// AdvanceChain moves the chain of k from step from to step to, on
// condition that the record is still at from: after poll sent the
// message holding to (the next step, or a step it adopts). seen, when
// set, is the lookup that led to the step: it is added to the record's
// lookups (the first MaxLookups; the count and the last one's time for
// all). An advance already made (the record at to) succeeds again. A
// record at another step fails with ErrChainMoved, no record with
// ErrNotTracked.
func (s *Store) AdvanceChain(ctx context.Context, k JobKey, from, to Step, seen *Lookup) error {
	cond := expression.AttributeExists(expression.Name("pk")).And(atStep(from))
	upd := expression.Set(expression.Name("seq"), expression.Value(to.Seq))
	if seen != nil {
		upd = upd.Set(expression.Name("polls"), expression.Value(seen.Polls)).Set(expression.Name("lastSeen"), expression.Value(seen.At))
	}
	if seen != nil && seen.Polls <= MaxLookups {
		one, err := attributevalue.MarshalList([]Lookup{*seen})
		if err != nil {
			return err
		}
		lookups := expression.Name("lookups")
		upd = upd.Set(lookups, expression.ListAppend(lookups.IfNotExists(expression.Value([]Lookup{})), expression.Value(&types.AttributeValueMemberL{Value: one})))
	}
	if to.ID == "" {
		upd = upd.Remove(expression.Name("seqId"))
	} else {
		upd = upd.Set(expression.Name("seqId"), expression.Value(to.ID))
	}
	expr, err := build(&cond, &upd)
	if err != nil {
		return fmt.Errorf("advance the chain of job %s: %w", k.JobID, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: keyOf(k.pk()), ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	err = s.checked("advance the tracking chain of", k.pk(), err)
	var c *conflict
	if !errors.As(err, &c) {
		return err
	}
	if c.old == nil {
		return fmt.Errorf("advance the chain of job %s: %w", k.JobID, ErrNotTracked)
	}
	var cur chainItem
	if err := attributevalue.UnmarshalMap(c.old, &cur); err != nil {
		return fmt.Errorf("read the tracking chain of job %s: %w", k.JobID, err)
	}
	if at := cur.chain().Step; at != to {
		return fmt.Errorf("advance the chain of job %s from step %d to %d: %w (it is at step %d)", k.JobID, from.Seq, to.Seq, ErrChainMoved, at.Seq)
	}
	return nil
}

// atStep is the condition that a record is at step st; a record without
// the attributes is at step 0.
func atStep(st Step) expression.ConditionBuilder {
	seq, id := expression.Name("seq"), expression.Name("seqId")
	seqIs := seq.Equal(expression.Value(st.Seq))
	if st.Seq == 0 {
		seqIs = expression.Or(seq.AttributeNotExists(), seqIs)
	}
	if st.ID == "" {
		return seqIs.And(id.AttributeNotExists())
	}
	return seqIs.And(id.Equal(expression.Value(st.ID)))
}
