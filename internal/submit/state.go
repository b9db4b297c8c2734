package submit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// StateTable is the part of the DynamoDB client submit uses;
// *dynamodb.Client implements it.
type StateTable interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// States of a request record.
const (
	stateNew       = "new"       // accepted; not submitted nor waiting yet
	stateWaiting   = "waiting"   // in its environment's line
	stateSubmitted = "submitted" // the job started: jobId is set
	stateFailed    = "failed"    // the service refused it for good while it waited
	stateTimedOut  = "timedOut"  // it waited past its deadline
)

// requestRecord is the item req#<requestId>.
type requestRecord struct {
	PK  string `dynamodbav:"pk"`
	Rev int64  `dynamodbav:"rev"`
	// State is one of the state* constants.
	State string `dynamodbav:"state"`
	// Fingerprint identifies the request's content (operation and input),
	// so that a request id reused for another request is noticed.
	Fingerprint            string    `dynamodbav:"fingerprint"`
	Operation              string    `dynamodbav:"operation"`
	AppID                  string    `dynamodbav:"appId"`
	BackendEnvironmentName string    `dynamodbav:"backendEnvironmentName"`
	ArrivedAt              time.Time `dynamodbav:"arrivedAt"`
	JobID                  string    `dynamodbav:"jobId,omitempty"`
	// Status is the job's status as the service answered, or WAITING,
	// FAILED, TIMED_OUT for a request that got no job.
	Status      string     `dynamodbav:"status,omitempty"`
	SubmittedAt *time.Time `dynamodbav:"submittedAt,omitempty"`
	// Tracked is true once the tracking message went to the jobs queue.
	Tracked bool   `dynamodbav:"tracked"`
	Error   string `dynamodbav:"error,omitempty"`
	// LockToken and LockUntil (Unix milliseconds) lease the request to
	// one invocation while it calls the Admin API for it.
	LockToken string `dynamodbav:"lockToken,omitempty"`
	LockUntil int64  `dynamodbav:"lockUntil,omitempty"`
	// ExpiresAt (Unix seconds) lets DynamoDB TTL delete the record.
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

func requestKey(requestID string) string { return "req#" + requestID }

func (r *requestRecord) lockedAt(now time.Time) bool {
	return r.LockToken != "" && now.UnixMilli() < r.LockUntil
}

func (r *requestRecord) lock(token string, until time.Time) {
	r.LockToken, r.LockUntil = token, until.UnixMilli()
}

func (r *requestRecord) unlock() { r.LockToken, r.LockUntil = "", 0 }

// lineItem is the item line#<appId>#<env>.
type lineItem struct {
	PK                     string      `dynamodbav:"pk"`
	Rev                    int64       `dynamodbav:"rev"`
	AppID                  string      `dynamodbav:"appId"`
	BackendEnvironmentName string      `dynamodbav:"backendEnvironmentName"`
	Entries                []lineEntry `dynamodbav:"entries"`
	// WakeID is the SQS message id of the wake-up scheduled for the line
	// and WakeAt (Unix milliseconds) when it is due: while it is pending,
	// nobody else schedules one, so a line has one chain of wake-ups.
	WakeID string `dynamodbav:"wakeId,omitempty"`
	WakeAt int64  `dynamodbav:"wakeAt,omitempty"`
	// ExpiresAt (Unix seconds) is set on an empty line only.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// lineEntry is one waiting request.
type lineEntry struct {
	RequestID string         `dynamodbav:"requestId"`
	Request   waitingRequest `dynamodbav:"request"`
	ArrivedAt time.Time      `dynamodbav:"arrivedAt"`
	Deadline  time.Time      `dynamodbav:"deadline"`
}

// waitingRequest is what is needed to submit a waiting request later.
type waitingRequest struct {
	Operation string `dynamodbav:"operation"`
	// Input is the operation's input as JSON (Request Syntax member names).
	Input string `dynamodbav:"input"`
}

func lineKey(appID, env string) string { return "line#" + appID + "#" + env }

func (l *lineItem) position(requestID string) int {
	for i, e := range l.Entries {
		if e.RequestID == requestID {
			return i
		}
	}
	return -1
}

// maxLineBytes keeps a line item under DynamoDB's 400 KB item limit with
// room for attribute names and the other attributes.
const maxLineBytes = 350 * 1024

// size estimates the line item's size; JSON is a little larger than
// DynamoDB's own accounting, which is the safe side.
func (l *lineItem) size() int {
	b, _ := json.Marshal(l)
	return len(b)
}

// errConflict says a conditional write lost to another writer: read again
// and decide again.
var errConflict = errors.New("state item changed meanwhile")

// pause waits before another try after a lost conditional write: a random
// while (full jitter) that grows with the attempt, so that writers that
// collided spread out. The context's end cuts it short; the next
// operation then reports it.
func pause(ctx context.Context, attempt int) {
	d := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(attempt, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// store reads and writes the state table; every write is conditional on
// the revision that was read.
type store struct {
	db    StateTable
	table string
}

func (s *store) get(ctx context.Context, pk string, v any) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fmt.Errorf("get %s from table %s: %w", pk, s.table, err)
	}
	if out.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(out.Item, v); err != nil {
		return false, fmt.Errorf("read %s from table %s: %w", pk, s.table, err)
	}
	return true, nil
}

// put writes item if its revision is still rev (0: the item must not
// exist), returning errConflict otherwise.
func (s *store) put(ctx context.Context, pk string, rev int64, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("encode %s: %w", pk, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}
	if rev == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("#rev = :rev")
		in.ExpressionAttributeNames = map[string]string{"#rev": "rev"}
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{
			":rev": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(rev)},
		}
	}
	if _, err := s.db.PutItem(ctx, in); err != nil {
		var ccf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return errConflict
		}
		return fmt.Errorf("put %s in table %s: %w", pk, s.table, err)
	}
	return nil
}

func (s *store) getRequest(ctx context.Context, requestID string) (*requestRecord, error) {
	var r requestRecord
	ok, err := s.get(ctx, requestKey(requestID), &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

// putRequest writes r conditional on the revision it was read at and
// advances r.Rev.
func (s *store) putRequest(ctx context.Context, r *requestRecord) error {
	next := *r
	next.Rev++
	if err := s.put(ctx, r.PK, r.Rev, &next); err != nil {
		return err
	}
	r.Rev = next.Rev
	return nil
}

// deleteRequest removes r if it is still at the revision read, so that a
// request that failed before anything happened can be tried afresh.
func (s *store) deleteRequest(ctx context.Context, r *requestRecord) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: r.PK}},
		ConditionExpression:      aws.String("#rev = :rev"),
		ExpressionAttributeNames: map[string]string{"#rev": "rev"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":rev": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(r.Rev)},
		},
	})
	if err != nil {
		var ccf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return errConflict
		}
		return fmt.Errorf("delete %s from table %s: %w", r.PK, s.table, err)
	}
	return nil
}

// getLine returns the line of an environment; an absent item is an empty
// line at revision 0.
func (s *store) getLine(ctx context.Context, appID, env string) (*lineItem, error) {
	l := &lineItem{PK: lineKey(appID, env), AppID: appID, BackendEnvironmentName: env}
	if _, err := s.get(ctx, l.PK, l); err != nil {
		return nil, err
	}
	return l, nil
}

// putLine writes l conditional on the revision it was read at, and
// advances l.Rev. An empty line gets an expiry so that idle environments
// do not accumulate items.
func (s *store) putLine(ctx context.Context, l *lineItem, now time.Time) error {
	next := *l
	next.Rev++
	next.ExpiresAt = 0
	if len(next.Entries) == 0 {
		next.Entries = []lineEntry{}
		next.ExpiresAt = now.Add(emptyLineTTL).Unix()
	}
	if err := s.put(ctx, l.PK, l.Rev, &next); err != nil {
		return err
	}
	l.Rev, l.Entries, l.ExpiresAt = next.Rev, next.Entries, next.ExpiresAt
	return nil
}

// emptyLineTTL is how long an empty line item stays before TTL deletes it.
const emptyLineTTL = 7 * 24 * time.Hour
