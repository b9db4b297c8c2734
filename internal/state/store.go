package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Client is the part of the DynamoDB client a Store uses; *dynamodb.Client
// implements it.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Options tune a Store.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Retention is how long a tracked job's record outlives its deadline
	// or its end (TTL); default DefaultRetention.
	Retention time.Duration
}

// DefaultRetention is how long a tracked job's record outlives its
// deadline or its end: longer than the 14 days a dead-letter queue keeps a
// message, so that a redriven message still finds the record of its job.
const DefaultRetention = 15 * 24 * time.Hour

// Store reads and writes the state table.
type Store struct {
	db    Client
	table string
	o     Options
}

// NewFromConfig returns a Store on the table named table, through a
// DynamoDB client built from cfg.
func NewFromConfig(cfg aws.Config, table string, o Options) *Store {
	return New(dynamodb.NewFromConfig(cfg), table, o)
}

// New returns a Store on the table named table.
func New(db Client, table string, o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	return &Store{db: db, table: table, o: o}
}

// ErrConflict says an item kept changing under a read-modify-write: other
// writers came first at every attempt.
var ErrConflict = errors.New("state item changed meanwhile")

// conflict is a write whose condition failed. old is the item as the
// table holds it (ReturnValuesOnConditionCheckFailure ALL_OLD), nil when
// there is none.
type conflict struct {
	old map[string]types.AttributeValue
}

func (*conflict) Error() string { return "the conditional request failed" }

func keyOf(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

// build builds a request's expressions: a condition and an update, each
// optional.
func build(cond *expression.ConditionBuilder, upd *expression.UpdateBuilder) (expression.Expression, error) {
	b := expression.NewBuilder()
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	if upd != nil {
		b = b.WithUpdate(*upd)
	}
	return b.Build()
}

// checked turns a failed condition into a *conflict and names what was
// being done in any other error.
func (s *Store) checked(op, pk string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &conflict{old: ccf.Item}
	}
	if err != nil {
		return fmt.Errorf("%s %s in table %s: %w", op, pk, s.table, err)
	}
	return nil
}

// get reads the item at pk (strongly consistent) into v, only the
// attributes proj names when there are any; found is false when there is
// no item.
func (s *Store) get(ctx context.Context, pk string, v any, proj ...string) (found bool, err error) {
	return getItem(ctx, s.db, s.table, pk, v, proj...)
}

// getter is the one call getItem needs: Store's and View's clients have it.
type getter interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// getItem reads the item at pk of table (strongly consistent) into v,
// only the attributes proj names when there are any; found is false when
// there is no item.
func getItem(ctx context.Context, db getter, table, pk string, v any, proj ...string) (found bool, err error) {
	in := &dynamodb.GetItemInput{TableName: aws.String(table), Key: keyOf(pk), ConsistentRead: aws.Bool(true)}
	if len(proj) > 0 {
		expr, err := expression.NewBuilder().WithProjection(projection(proj)).Build()
		if err != nil {
			return false, fmt.Errorf("get %s: %w", pk, err)
		}
		in.ProjectionExpression, in.ExpressionAttributeNames = expr.Projection(), expr.Names()
	}
	out, err := db.GetItem(ctx, in)
	if err != nil {
		return false, fmt.Errorf("get %s from table %s: %w", pk, table, err)
	}
	if out.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(out.Item, v); err != nil {
		return false, fmt.Errorf("read %s from table %s: %w", pk, table, err)
	}
	return true, nil
}

func projection(names []string) expression.ProjectionBuilder {
	nb := make([]expression.NameBuilder, len(names))
	for i, n := range names {
		nb[i] = expression.Name(n)
	}
	return expression.NamesList(nb[0], nb[1:]...)
}

// put writes item (whose key is pk), on condition cond when it is set; a
// failed condition is a *conflict, holding the item as it is when
// returnOld is set (ReturnValuesOnConditionCheckFailure ALL_OLD).
func (s *Store) put(ctx context.Context, pk string, item any, cond *expression.ConditionBuilder, returnOld bool) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("encode %s: %w", pk, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}
	if cond != nil {
		expr, err := build(cond, nil)
		if err != nil {
			return fmt.Errorf("put %s: %w", pk, err)
		}
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Condition(), expr.Names(), expr.Values()
		if returnOld {
			in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		}
	}
	_, err = s.db.PutItem(ctx, in)
	return s.checked("put", pk, err)
}

// update applies upd to the item at pk (creating it when there is none).
func (s *Store) update(ctx context.Context, pk string, upd expression.UpdateBuilder) error {
	expr, err := build(nil, &upd)
	if err != nil {
		return fmt.Errorf("update %s: %w", pk, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: keyOf(pk), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return s.checked("update", pk, err)
}

// updateIf applies upd to the item at pk on condition cond (UpdateItem
// creates the item when there is none and cond allows it); a failed
// condition is a *conflict. When out is set, it receives the item as
// written (ReturnValues ALL_NEW).
func (s *Store) updateIf(ctx context.Context, pk string, cond expression.ConditionBuilder, upd expression.UpdateBuilder, out any) error {
	expr, err := build(&cond, &upd)
	if err != nil {
		return fmt.Errorf("update %s: %w", pk, err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: keyOf(pk), UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	if out != nil {
		in.ReturnValues = types.ReturnValueAllNew
	}
	res, err := s.db.UpdateItem(ctx, in)
	if err := s.checked("update", pk, err); err != nil {
		return err
	}
	if out != nil {
		if err := attributevalue.UnmarshalMap(res.Attributes, out); err != nil {
			return fmt.Errorf("read %s from table %s: %w", pk, s.table, err)
		}
	}
	return nil
}

// newToken returns a random token naming one holder of a lease or claim.
func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// delete removes the item at pk, on condition cond when it is set; a
// failed condition is a *conflict.
func (s *Store) delete(ctx context.Context, pk string, cond *expression.ConditionBuilder) error {
	in := &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: keyOf(pk)}
	if cond != nil {
		expr, err := build(cond, nil)
		if err != nil {
			return fmt.Errorf("delete %s: %w", pk, err)
		}
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Condition(), expr.Names(), expr.Values()
	}
	_, err := s.db.DeleteItem(ctx, in)
	return s.checked("delete", pk, err)
}
