package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// DeliveryKey names the delivery of one status change (its event key) to
// one sink.
type DeliveryKey struct{ EventKey, Sink string }

func (k DeliveryKey) pk() string { return "evt#" + k.EventKey + "#" + k.Sink }

// The statuses of a delivery claim.
const (
	claimInProgress = "IN_PROGRESS"
	claimCompleted  = "COMPLETED"
)

// claim is the item evt#<eventKey>#<sink>: the idempotency record of
// Powertools for AWS Lambda. It is IN_PROGRESS (expiring with the
// invocation that delivers) before the delivery, COMPLETED (expiring after
// the idempotency window) after it, and deleted if the delivery failed.
type claim struct {
	PK          string     `dynamodbav:"pk"`
	Status      string     `dynamodbav:"status"`
	ExpiresAt   int64      `dynamodbav:"expiresAt"`
	DeliveredAt *time.Time `dynamodbav:"deliveredAt,omitempty"`
}

// ErrDeliveryInProgress says another invocation is delivering the same
// status change to the same sink.
var ErrDeliveryInProgress = errors.New("another invocation is delivering this status change")

// ClaimDelivery takes the delivery k until the given time: it is free, or
// the invocation that claimed it is gone (its claim expired before now).
// done reports that the change was already delivered;
// ErrDeliveryInProgress that another invocation holds the claim.
func (s *Store) ClaimDelivery(ctx context.Context, k DeliveryKey, until time.Time) (done bool, err error) {
	lapsed := expression.Name("status").Equal(expression.Value(claimInProgress)).
		And(expression.Name("expiresAt").LessThan(expression.Value(s.o.Now().Unix())))
	free := expression.AttributeNotExists(expression.Name("pk")).Or(lapsed)
	err = s.put(ctx, k.pk(), &claim{PK: k.pk(), Status: claimInProgress, ExpiresAt: until.Unix()}, &free, true)
	var c *conflict
	if !errors.As(err, &c) {
		return false, err
	}
	var held claim
	if err := attributevalue.UnmarshalMap(c.old, &held); err != nil {
		return false, fmt.Errorf("read claim %s: %w", k.pk(), err)
	}
	if held.Status == claimCompleted {
		return true, nil
	}
	return false, ErrDeliveryInProgress
}

// CompleteDelivery marks k delivered, remembered until expires.
func (s *Store) CompleteDelivery(ctx context.Context, k DeliveryKey, expires time.Time) error {
	now := s.o.Now().UTC()
	return s.put(ctx, k.pk(), &claim{PK: k.pk(), Status: claimCompleted, ExpiresAt: expires.Unix(), DeliveredAt: &now}, nil, false)
}

// ReleaseDelivery gives up the claim on k after a failed delivery, so
// that a retry may deliver; a COMPLETED record is never removed.
func (s *Store) ReleaseDelivery(ctx context.Context, k DeliveryKey) error {
	inProgress := expression.Name("status").Equal(expression.Value(claimInProgress))
	err := s.delete(ctx, k.pk(), &inProgress)
	if errors.As(err, new(*conflict)) {
		return nil
	}
	return err
}
