package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Claims remember which status changes a sink delivered, so that a
// duplicated or redelivered completion message reaches users once. It is
// the idempotency pattern of Powertools for AWS Lambda: a record is
// claimed IN_PROGRESS (expiring with the invocation) before the delivery,
// marked COMPLETED (expiring after the idempotency window) after it, and
// released if the delivery failed, so that a retry may try again.
type Claims interface {
	// Claim takes key until the given time. It reports done when the
	// change was already delivered; an error when another invocation holds
	// the claim or the store failed.
	Claim(ctx context.Context, key string, until time.Time) (done bool, err error)
	// Complete marks key delivered, remembered until expires.
	Complete(ctx context.Context, key string, expires time.Time) error
	// Release gives up a claim whose delivery failed.
	Release(ctx context.Context, key string) error
}

// ErrInProgress says another invocation is delivering the same change;
// the message is redelivered later and then finds it done.
var ErrInProgress = errors.New("another invocation is delivering this status change")

// IdempotencyOptions tune Deduplicate.
type IdempotencyOptions struct {
	// Window is how long a delivered change is remembered (default 7 days,
	// beyond the queues' retention, so no redelivery outlives it).
	Window time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Deduplicate wraps a sink so that each status change (by event key) is
// delivered to it at most once, whatever the duplicates and redeliveries:
// changes already delivered count as delivered without reaching the sink.
func Deduplicate(sink Sink, claims Claims, o IdempotencyOptions) Sink {
	if o.Window <= 0 {
		o.Window = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &deduplicated{sink: sink, claims: claims, o: o}
}

type deduplicated struct {
	sink   Sink
	claims Claims
	o      IdempotencyOptions
}

// Name implements Sink: the wrapped sink's name.
func (d *deduplicated) Name() string { return d.sink.Name() }

// Publish implements Sink.
func (d *deduplicated) Publish(ctx context.Context, changes []Change) []error {
	errs := make([]error, len(changes))
	until := d.o.Now().Add(time.Minute)
	if deadline, ok := ctx.Deadline(); ok {
		until = deadline.Add(5 * time.Second)
	}
	// One claim per event key: a duplicate within the batch shares the
	// outcome of its first copy.
	first := map[string]int{}
	var idx []int
	var claimed []Change
	for i, c := range changes {
		key := d.key(c)
		if j, dup := first[key]; dup {
			errs[i] = dupOf(j)
			continue
		}
		first[key] = i
		done, err := d.claims.Claim(ctx, key, until)
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("claim %s: %w", key, err)
		case done:
		default:
			idx = append(idx, i)
			claimed = append(claimed, c)
		}
	}
	if len(claimed) > 0 {
		for k, err := range publishTo(ctx, d.sink, claimed) {
			i := idx[k]
			key := d.key(changes[i])
			if err != nil {
				errs[i] = err
				if rerr := d.claims.Release(ctx, key); rerr != nil {
					// The claim expires with the invocation anyway.
					errs[i] = fmt.Errorf("%w (and releasing its claim failed: %w)", err, rerr)
				}
				continue
			}
			// Delivered. Recording it is retried a little; should it still
			// fail, the change counts as delivered all the same: the
			// message is not redelivered, and the IN_PROGRESS claim keeps
			// copies away until it expires.
			for attempt := 0; attempt < 3; attempt++ {
				if d.claims.Complete(ctx, key, d.o.Now().Add(d.o.Window)) == nil {
					break
				}
			}
		}
	}
	for i, err := range errs {
		var d dupOf
		if errors.As(err, &d) {
			errs[i] = errs[int(d)]
		}
	}
	return errs
}

// dupOf marks a change whose outcome is that of change i of the batch.
type dupOf int

func (d dupOf) Error() string { return "duplicate of change " + strconv.Itoa(int(d)) }

func (d *deduplicated) key(c Change) string { return "evt#" + c.EventKey + "#" + d.sink.Name() }

// DynamoClaims keeps claims in the DynamoDB state table (key attribute pk,
// TTL attribute expiresAt).
type DynamoClaims struct {
	Client interface {
		PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
		GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
		DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	}
	Table string
	Now   func() time.Time
}

const (
	claimInProgress = "IN_PROGRESS"
	claimCompleted  = "COMPLETED"
)

func (c *DynamoClaims) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Claim implements Claims.
func (c *DynamoClaims) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	_, err := c.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":        &ddbtypes.AttributeValueMemberS{Value: key},
			"status":    &ddbtypes.AttributeValueMemberS{Value: claimInProgress},
			"expiresAt": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(until.Unix(), 10)},
		},
		// Free, or an IN_PROGRESS claim whose invocation is gone.
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#s = :inprogress AND expiresAt < :now)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":inprogress": &ddbtypes.AttributeValueMemberS{Value: claimInProgress},
			":now":        &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(c.now().Unix(), 10)},
		},
	})
	if err == nil {
		return false, nil
	}
	var cond *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &cond) {
		return false, err
	}
	out, err := c.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: key}}})
	if err != nil {
		return false, err
	}
	if s, ok := out.Item["status"].(*ddbtypes.AttributeValueMemberS); ok && s.Value == claimCompleted {
		return true, nil
	}
	return false, ErrInProgress
}

// Complete implements Claims.
func (c *DynamoClaims) Complete(ctx context.Context, key string, expires time.Time) error {
	_, err := c.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":          &ddbtypes.AttributeValueMemberS{Value: key},
			"status":      &ddbtypes.AttributeValueMemberS{Value: claimCompleted},
			"expiresAt":   &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
			"deliveredAt": &ddbtypes.AttributeValueMemberS{Value: c.now().UTC().Format(time.RFC3339Nano)},
		},
	})
	return err
}

// Release implements Claims: it deletes the claim if it is still an
// IN_PROGRESS one (a COMPLETED record is never removed).
func (c *DynamoClaims) Release(ctx context.Context, key string) error {
	_, err := c.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(c.Table),
		Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: key}},
		ConditionExpression:       aws.String("#s = :inprogress"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":inprogress": &ddbtypes.AttributeValueMemberS{Value: claimInProgress}},
	})
	var cond *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return nil
	}
	return err
}
