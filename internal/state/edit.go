package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxAttempts bounds the writes of one read-modify-write: each lost to a
// writer that came first.
const maxAttempts = 10

// stored is what every item written under optimistic concurrency has: its
// key and its revision, which each write advances. Rev 0 means the item is
// not in the table (not yet written, or deleted meanwhile).
type stored struct {
	PK  string `dynamodbav:"pk"`
	Rev int64  `dynamodbav:"rev"`
}

func (h *stored) head() *stored { return h }

// Exists reports whether the item was read from the table (or written to
// it): false for an item built in memory, or one deleted meanwhile.
func (h *stored) Exists() bool { return h.Rev > 0 }

// versioned is an item edit can write: Request and Line.
type versioned interface {
	head() *stored
	// settle readies the item for a write at now.
	settle(now time.Time)
}

// revision is the condition of a write over the item read at rev: still
// at rev, or still absent when rev is 0.
func revision(rev int64) *expression.ConditionBuilder {
	c := expression.AttributeNotExists(expression.Name("pk"))
	if rev > 0 {
		c = expression.Name("rev").Equal(expression.Value(rev))
	}
	return &c
}

// edit is the state table's one read-modify-write loop. change decides on
// cur (the item as the caller holds it) and reports whether to write it;
// the write holds only if the item is still at the revision cur was read
// at. When another writer came first, the failed write returns the item
// as it is now (ALL_OLD) and change decides again on that — after a pause
// with full jitter, so that colliding writers spread out — at most
// maxAttempts times. An item deleted meanwhile keeps cur's fields and is
// written anew (Exists is false for change to see). On success cur is the
// item as written; change's error ends the loop and is returned.
func edit[T any, P interface {
	*T
	versioned
}](ctx context.Context, s *Store, cur P, change func(P) (bool, error)) error {
	for attempt := 0; ; attempt++ {
		write, err := change(cur)
		if err != nil || !write {
			return err
		}
		if attempt > 0 {
			pause(ctx, attempt-1)
		}
		next := *cur
		h := P(&next).head()
		rev := h.Rev
		h.Rev++
		P(&next).settle(s.o.Now())
		err = s.put(ctx, h.PK, &next, revision(rev), true)
		var c *conflict
		if !errors.As(err, &c) {
			if err == nil {
				*cur = next
			}
			return err
		}
		if attempt+1 == maxAttempts {
			return fmt.Errorf("write %s: %w", h.PK, ErrConflict)
		}
		if err := current(cur, c.old); err != nil {
			return err
		}
	}
}

// current makes cur the item a failed write found: old, or, when there is
// none, cur itself at revision 0.
func current[T any, P interface {
	*T
	versioned
}](cur P, old map[string]types.AttributeValue) error {
	if old == nil {
		cur.head().Rev = 0
		return nil
	}
	var now T
	if err := attributevalue.UnmarshalMap(old, &now); err != nil {
		return fmt.Errorf("read %s: %w", cur.head().PK, err)
	}
	*cur = now
	return nil
}

// pause waits before another write after a lost one: a random while (full
// jitter) that grows with the attempt. The context's end cuts it short;
// the write then reports it.
func pause(ctx context.Context, attempt int) {
	d := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(attempt, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
