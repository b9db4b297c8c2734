// Package tracked records, in the DynamoDB state table, the jobs jobwatch
// follows: one item per job (job#<app>#<env>#<id>: state, source, polls,
// first and last seen), and per environment the set of its jobs still
// running (env#<app>#<env>). The discovery sweep uses the first to start
// tracking only jobs nobody tracks yet; poll uses both to drop a tracking
// message of a job already seen to end, and to answer a push hint for an
// environment.
package tracked

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// Table is the part of the DynamoDB client the store uses.
type Table interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Job states.
const (
	StateTracking = "TRACKING"
	StateDone     = "DONE"
)

// Key names one job.
type Key struct{ AppID, Env, JobID string }

func (k Key) pk() string { return "job#" + k.AppID + "#" + k.Env + "#" + k.JobID }

func envKey(appID, env string) string { return "env#" + appID + "#" + env }

// Store reads and writes tracked jobs.
type Store struct {
	Client Table
	Table  string
	// Retention is how long a job's record outlives its deadline or end
	// (TTL), default 7 days.
	Retention time.Duration
	Now       func() time.Time
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Store) expires(from time.Time) string {
	r := s.Retention
	if r <= 0 {
		r = 7 * 24 * time.Hour
	}
	return strconv.FormatInt(from.Add(r).Unix(), 10)
}

func str(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

// KeyOf is the key of the job a tracking message follows.
func KeyOf(m contract.TrackingMessage) Key {
	return Key{AppID: m.AppID, Env: m.BackendEnvironmentName, JobID: m.JobID}
}

// Start records that jobwatch tracks the job of m from now, unless it
// already does: started is false when the job was tracked before (by
// submit, or an earlier sweep). source says who started it ("submit",
// "sweep"). The record keeps m, so that a push hint can settle the job
// without its own tracking message.
func (s *Store) Start(ctx context.Context, m contract.TrackingMessage, source string) (started bool, err error) {
	k := KeyOf(m)
	now := s.now().UTC()
	body, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk": str(k.pk()), "state": str(StateTracking), "source": str(source), "operation": str(m.Operation),
			"firstSeen": str(now.Format(time.RFC3339Nano)), "lastSeen": str(now.Format(time.RFC3339Nano)),
			"polls":     &ddbtypes.AttributeValueMemberN{Value: "0"},
			"tracking":  str(string(body)),
			"expiresAt": &ddbtypes.AttributeValueMemberN{Value: s.expires(m.Deadline)},
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var cond *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record tracked job %s: %w", k.JobID, err)
	}
	if err := s.setMember(ctx, k, "ADD"); err != nil {
		return true, err
	}
	return true, nil
}

// setMember adds (ADD) or removes (DELETE) a job in its environment's set
// of running jobs.
func (s *Store) setMember(ctx context.Context, k Key, op string) error {
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       map[string]ddbtypes.AttributeValue{"pk": str(envKey(k.AppID, k.Env))},
		UpdateExpression:          aws.String(op + " jobs :j"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":j": &ddbtypes.AttributeValueMemberSS{Value: []string{k.JobID}}},
	})
	if err != nil {
		return fmt.Errorf("update the running jobs of %s/%s: %w", k.AppID, k.Env, err)
	}
	return nil
}

// Finish records that k ended with status after polls lookups, and takes
// it out of its environment's running jobs.
func (s *Store) Finish(ctx context.Context, k Key, status string, polls int) error {
	now := s.now().UTC()
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      map[string]ddbtypes.AttributeValue{"pk": str(k.pk())},
		UpdateExpression:         aws.String("SET #st = :done, #s = :status, polls = :polls, lastSeen = :now, expiresAt = :exp"),
		ExpressionAttributeNames: map[string]string{"#st": "state", "#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":done": str(StateDone), ":status": str(status), ":now": str(now.Format(time.RFC3339Nano)),
			":polls": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(polls)},
			":exp":   &ddbtypes.AttributeValueMemberN{Value: s.expires(now)},
		},
	})
	if err != nil {
		return fmt.Errorf("record the end of job %s: %w", k.JobID, err)
	}
	return s.setMember(ctx, k, "DELETE")
}

// Forget removes the record of a job whose tracking could not start (its
// tracking message was not sent), so that the next sweep tries again.
func (s *Store) Forget(ctx context.Context, k Key) error {
	_, err := s.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table),
		Key: map[string]ddbtypes.AttributeValue{"pk": str(k.pk())}})
	if err != nil {
		return fmt.Errorf("forget job %s: %w", k.JobID, err)
	}
	return s.setMember(ctx, k, "DELETE")
}

// Messages returns the tracking messages recorded for the running jobs of
// an environment (those Start recorded), for a push hint to settle.
func (s *Store) Messages(ctx context.Context, appID, env string) ([]contract.TrackingMessage, error) {
	ids, err := s.Running(ctx, appID, env)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var out []contract.TrackingMessage
	for _, id := range ids {
		k := Key{AppID: appID, Env: env, JobID: id}
		res, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
			Key: map[string]ddbtypes.AttributeValue{"pk": str(k.pk())}})
		if err != nil {
			return out, fmt.Errorf("read tracked job %s: %w", id, err)
		}
		st, _ := res.Item["state"].(*ddbtypes.AttributeValueMemberS)
		body, _ := res.Item["tracking"].(*ddbtypes.AttributeValueMemberS)
		if st == nil || st.Value != StateTracking || body == nil {
			continue
		}
		m, err := contract.DecodeTrackingMessage([]byte(body.Value))
		if err != nil {
			continue // a record from an older version: its own message still tracks it
		}
		out = append(out, m)
	}
	return out, nil
}

// Running returns the jobs of an environment still tracked as running.
func (s *Store) Running(ctx context.Context, appID, env string) ([]string, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": str(envKey(appID, env))}})
	if err != nil {
		return nil, fmt.Errorf("read the running jobs of %s/%s: %w", appID, env, err)
	}
	if set, ok := out.Item["jobs"].(*ddbtypes.AttributeValueMemberSS); ok {
		return set.Value, nil
	}
	return nil, nil
}

// Done returns which of keys are recorded as ended. Unknown jobs are not
// done.
func (s *Store) Done(ctx context.Context, keys []Key) (map[Key]bool, error) {
	done := map[Key]bool{}
	byPK := map[string]Key{}
	var ks []map[string]ddbtypes.AttributeValue
	for _, k := range keys {
		if _, dup := byPK[k.pk()]; dup {
			continue
		}
		byPK[k.pk()] = k
		ks = append(ks, map[string]ddbtypes.AttributeValue{"pk": str(k.pk())})
	}
	for start := 0; start < len(ks); start += 100 {
		req := map[string]ddbtypes.KeysAndAttributes{s.Table: {
			Keys: ks[start:min(start+100, len(ks))], ProjectionExpression: aws.String("pk, #st"),
			ExpressionAttributeNames: map[string]string{"#st": "state"}, ConsistentRead: aws.Bool(true),
		}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 5 {
				return done, errors.New("read tracked jobs: keys left unprocessed")
			}
			out, err := s.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return done, fmt.Errorf("read tracked jobs: %w", err)
			}
			for _, item := range out.Responses[s.Table] {
				pk, _ := item["pk"].(*ddbtypes.AttributeValueMemberS)
				st, _ := item["state"].(*ddbtypes.AttributeValueMemberS)
				if pk != nil && st != nil && st.Value == StateDone {
					done[byPK[pk.Value]] = true
				}
			}
			req = out.UnprocessedKeys
		}
	}
	return done, nil
}
