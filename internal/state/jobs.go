package state

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/stacks"
)

// The states of a tracked job.
const (
	JobTracking = "TRACKING"
	JobDone     = "DONE"
)

// JobKey names one job.
type JobKey struct{ AppID, Env, JobID string }

func (k JobKey) pk() string { return "job#" + k.AppID + "#" + k.Env + "#" + k.JobID }

// JobKeyOf is the key of the job a tracking message follows.
func JobKeyOf(m contract.TrackingMessage) JobKey {
	return JobKey{AppID: m.AppID, Env: m.BackendEnvironmentName, JobID: m.JobID}
}

func runningKey(appID, env string) string { return "env#" + appID + "#" + env }

// trackedJob is the item job#<appId>#<env>#<jobId>: a job jobwatch
// follows, and who follows it. A tracker claims the item before it sends
// the job's tracking message (sent false, its lease until leaseUntil) and
// marks it sent after, so that a tracker that failed between the two is
// taken over once its lease runs out, and one that sent is not doubled.
// The discovery sweep starts tracking only jobs nobody holds; poll drops
// the tracking messages of a job recorded DONE. Claims write with
// UpdateItem, so that attributes others keep on the item stay.
type trackedJob struct {
	PK string `dynamodbav:"pk"`
	// State is JobTracking, then JobDone.
	State string `dynamodbav:"state"`
	// Source is who started tracking it: "submit" or "sweep".
	Source    string    `dynamodbav:"source"`
	Operation string    `dynamodbav:"operation"`
	FirstSeen time.Time `dynamodbav:"firstSeen"`
	LastSeen  time.Time `dynamodbav:"lastSeen"`
	Polls     int       `dynamodbav:"polls"`
	// Tracking is the job's tracking message (JSON), so that a push hint
	// can settle the job without its own message.
	Tracking string `dynamodbav:"tracking"`
	Status   string `dynamodbav:"status,omitempty"`
	// Change is the status change announced at the job's end (JSON).
	Change string `dynamodbav:"change,omitempty"`
	// RequestID is the job request the job was started for, when jobwatch
	// started it.
	RequestID string `dynamodbav:"requestId,omitempty"`
	// Sent is false from the claim until the tracking message is sent; an
	// item without it (an earlier version's) counts as sent.
	Sent *bool `dynamodbav:"sent,omitempty"`
	// LeaseUntil (Unix milliseconds) is when the claim of an unsent item
	// lapses; ClaimToken names its holder.
	LeaseUntil int64  `dynamodbav:"leaseUntil,omitempty"`
	ClaimToken string `dynamodbav:"claimToken,omitempty"`
	ExpiresAt  int64  `dynamodbav:"expiresAt"`
}

// runningJobs is the item env#<appId>#<env>: the set of the environment's
// tracked jobs still running, for a push hint to look at.
type runningJobs struct {
	Jobs []string `dynamodbav:"jobs,stringset"`
}

func (s *Store) expires(from time.Time) int64 { return from.Add(s.o.Retention).Unix() }

// JobClaim is a tracker's hold on a job's record, from ClaimJob.
type JobClaim struct {
	Key JobKey
	// announcer is the stack whose status change announces the job's end.
	announcer announcer
	// RequestID is the request the job was started for, as recorded.
	RequestID string
	// Sent reports that the job's tracking message was sent already (by
	// an earlier attempt for the same request): there is nothing to send.
	Sent  bool
	token string
}

// ErrClaimLost says a claim lapsed and another tracker took the job over
// before the holder marked it sent.
var ErrClaimLost = errors.New("the claim on the job lapsed and another tracker took it")

// ClaimJob claims the tracking of m's job for source ("submit", "sweep")
// until the given time, before its tracking message is sent. It succeeds
// when nobody holds the job: it has no record, or its record is an unsent
// claim whose lease ran out (its tracker failed before sending) and that,
// for a claim without a request id, belongs to no request. A claim with
// m.RequestID also succeeds on the record of the same request (an earlier
// attempt's), and then tells whether that attempt sent already. It
// returns nil when another request or tracker holds the job.
func (s *Store) ClaimJob(ctx context.Context, m contract.TrackingMessage, source string, until time.Time) (*JobClaim, error) {
	return s.claimJob(ctx, m, source, until, false)
}

// TrackJob records that jobwatch tracks the job of m from now, its
// tracking message sent, unless someone holds it already (see ClaimJob):
// started is false when the job was tracked before (by submit, or an
// earlier sweep). source says who starts it ("submit", "sweep").
func (s *Store) TrackJob(ctx context.Context, m contract.TrackingMessage, source string) (started bool, err error) {
	c, err := s.claimJob(ctx, m, source, time.Time{}, true)
	return c != nil, err
}

func (s *Store) claimJob(ctx context.Context, m contract.TrackingMessage, source string, until time.Time, sent bool) (*JobClaim, error) {
	k := JobKeyOf(m)
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	now, token, n, v := s.o.Now().UTC(), newToken(), expression.Name, expression.Value
	upd := expression.Set(n("state"), n("state").IfNotExists(v(JobTracking))).
		Set(n("source"), v(source)).Set(n("operation"), v(m.Operation)).Set(n("tracking"), v(string(body))).
		Set(n("firstSeen"), n("firstSeen").IfNotExists(v(now))).Set(n("lastSeen"), v(now)).
		Set(n("polls"), n("polls").IfNotExists(v(0))).Set(n("sent"), n("sent").IfNotExists(v(sent))).
		Set(n("expiresAt"), v(s.expires(m.Deadline)))
	if !sent { // a claim before the send is leased to its holder
		upd = upd.Set(n("leaseUntil"), v(until.UnixMilli())).Set(n("claimToken"), v(token))
	}
	lapsed := n("state").Equal(v(JobTracking)).And(n("sent").Equal(v(false)), n("leaseUntil").LessThan(v(now.UnixMilli())))
	free := n("pk").AttributeNotExists()
	if m.RequestID != "" {
		upd = upd.Set(n("requestId"), v(m.RequestID))
		free = free.Or(lapsed, n("requestId").Equal(v(m.RequestID)))
	} else {
		free = free.Or(lapsed.And(n("requestId").AttributeNotExists()))
	}
	var job trackedJob
	err = s.updateIf(ctx, k.pk(), free, upd, &job)
	if errors.As(err, new(*conflict)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim job %s: %w", k.JobID, err)
	}
	a := announcerOf(m)
	if err := s.running(ctx, a, expression.Add); err != nil {
		return nil, err
	}
	return &JobClaim{Key: k, announcer: a, RequestID: job.RequestID, Sent: job.Sent == nil || *job.Sent, token: token}, nil
}

// MarkJobSent records that the holder of c sent the job's tracking
// message. ErrClaimLost says the claim had lapsed and another tracker took
// the job over meanwhile.
func (s *Store) MarkJobSent(ctx context.Context, c *JobClaim) error {
	held := expression.Name("claimToken").Equal(expression.Value(c.token))
	upd := expression.Set(expression.Name("sent"), expression.Value(true)).Remove(expression.Name("leaseUntil"))
	err := s.updateIf(ctx, c.Key.pk(), held, upd, nil)
	if errors.As(err, new(*conflict)) {
		return fmt.Errorf("mark job %s sent: %w", c.Key.JobID, ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("mark job %s sent: %w", c.Key.JobID, err)
	}
	c.Sent = true
	return nil
}

// ReleaseJob gives up a claim whose tracking message could not be sent,
// so that the next tracker may take the job at once; a claim taken over
// meanwhile, or marked sent, is left alone.
func (s *Store) ReleaseJob(ctx context.Context, c *JobClaim) error {
	held := expression.Name("claimToken").Equal(expression.Value(c.token)).
		And(expression.Name("sent").Equal(expression.Value(false)))
	err := s.delete(ctx, c.Key.pk(), &held)
	if errors.As(err, new(*conflict)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release job %s: %w", c.Key.JobID, err)
	}
	return s.running(ctx, c.announcer, expression.Delete)
}

// running adds a job to the running jobs of the stack that announces its
// end (expression.Add), or takes it out (expression.Delete). A job whose
// operation changes no stack is in no set.
func (s *Store) running(ctx context.Context, a announcer, op func(expression.NameBuilder, expression.ValueBuilder) expression.UpdateBuilder) error {
	if a.env == "" {
		return nil
	}
	jobs := expression.Value(&types.AttributeValueMemberSS{Value: []string{a.member}})
	if err := s.update(ctx, runningKey(a.app, a.env), op(expression.Name("jobs"), jobs)); err != nil {
		return fmt.Errorf("update the running jobs of %s/%s: %w", a.app, a.env, err)
	}
	return nil
}

// FinishJob records that the job of m ended with the status change c
// (its status, its lookups, and c itself, for `jobwatch jobs` and `submit
// --wait`), and takes it out of its stack's running jobs.
func (s *Store) FinishJob(ctx context.Context, m contract.TrackingMessage, c contract.StatusChange) error {
	k := JobKeyOf(m)
	change, err := json.Marshal(c)
	if err != nil {
		return err
	}
	now := s.o.Now().UTC()
	upd := expression.Set(expression.Name("state"), expression.Value(JobDone)).
		Set(expression.Name("status"), expression.Value(c.Status)).
		Set(expression.Name("polls"), expression.Value(c.Polls)).
		Set(expression.Name("change"), expression.Value(string(change))).
		Set(expression.Name("lastSeen"), expression.Value(now)).
		Set(expression.Name("expiresAt"), expression.Value(s.expires(now)))
	if last := lastLookup(c, now); last != nil { // set, not appended: a second FinishJob writes the same
		upd = upd.Set(expression.Name("endLookup"), expression.Value(last))
	}
	if err := s.update(ctx, k.pk(), upd); err != nil {
		return fmt.Errorf("record the end of job %s: %w", k.JobID, err)
	}
	return s.running(ctx, announcerOf(m), expression.Delete)
}

// lastLookup is the lookup that ended a job, for its record (endLookup):
// what the service said (COMPLETED, FAILED, or the status a job had when
// it timed out); none when the end came without a lookup of its own.
func lastLookup(c contract.StatusChange, now time.Time) *Lookup {
	if c.Polls == 0 || c.Polls > MaxLookups {
		return nil
	}
	status := c.Status
	if !(status == contract.StatusCompleted || status == contract.StatusFailed) {
		status = cmp.Or(c.PreviousStatus, status)
	}
	return &Lookup{At: now, Status: status, Polls: c.Polls}
}

// RunningJobs returns the jobs still tracked as running whose end a
// status change of the environment's root stack announces: its own jobs
// (their ids), and the clones that create it (env@id of their source
// environment). env "*" holds the app-wide jobs.
func (s *Store) RunningJobs(ctx context.Context, appID, env string) ([]string, error) {
	var set runningJobs
	if _, err := s.get(ctx, runningKey(appID, env), &set); err != nil {
		return nil, fmt.Errorf("read the running jobs of %s/%s: %w", appID, env, err)
	}
	return set.Jobs, nil
}

// TrackedMessages returns the tracking messages recorded for the running
// jobs whose end a status change of the environment's root stack
// announces (see RunningJobs), and the app's app-wide jobs, for a push
// hint to settle.
func (s *Store) TrackedMessages(ctx context.Context, appID, env string) ([]contract.TrackingMessage, error) {
	var out []contract.TrackingMessage
	for _, set := range []string{env, appWide} {
		members, err := s.RunningJobs(ctx, appID, set)
		if err != nil {
			return out, err
		}
		for _, member := range members {
			k := JobKey{AppID: appID, Env: env, JobID: member}
			if e, id, ok := strings.Cut(member, "@"); ok {
				k.Env, k.JobID = e, id
			}
			var job trackedJob
			found, err := s.get(ctx, k.pk(), &job, "state", "tracking")
			if err != nil {
				return out, fmt.Errorf("read tracked job %s: %w", k.JobID, err)
			}
			if !found || job.State != JobTracking || job.Tracking == "" {
				continue
			}
			m, err := contract.DecodeTrackingMessage([]byte(job.Tracking))
			if err != nil {
				continue // a record from an older version: its own message still tracks it
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// appWide is the running set of an app's app-wide jobs (RemoveAllBackends):
// a status change of any of its environments' stacks may announce them.
const appWide = "*"

// announcer is the set a job is in: the environment whose root stack's
// status change announces the job's end, and the job as a member of it.
type announcer struct{ app, env, member string }

// announcerOf follows stacks.Of: a job that changes its own environment's
// stack is announced by it (member: the job id), a clone by the stack of
// the environment it creates (member: source@id), an app-wide job by any
// of the app's stacks; a job that changes no stack by none (env "").
func announcerOf(m contract.TrackingMessage) announcer {
	a := announcer{app: m.AppID, member: m.BackendEnvironmentName + "@" + m.JobID}
	switch stacks.Of(m.Operation).Stack {
	case stacks.Own:
		a.env, a.member = m.BackendEnvironmentName, m.JobID
	case stacks.Target:
		a.env = m.TargetEnvironmentName
	case stacks.App:
		a.env = appWide
	}
	return a
}

// batchGetMax is the most keys one BatchGetItem takes.
const batchGetMax = 100

// EndedJobs returns which of keys are recorded as ended. Unknown jobs have
// not ended.
func (s *Store) EndedJobs(ctx context.Context, keys []JobKey) (map[JobKey]bool, error) {
	ended := map[JobKey]bool{}
	byPK := map[string]JobKey{}
	var ks []map[string]types.AttributeValue
	for _, k := range keys {
		if _, dup := byPK[k.pk()]; dup {
			continue
		}
		byPK[k.pk()] = k
		ks = append(ks, keyOf(k.pk()))
	}
	expr, err := expression.NewBuilder().WithProjection(projection([]string{"pk", "state"})).Build()
	if err != nil {
		return ended, fmt.Errorf("read tracked jobs: %w", err)
	}
	for start := 0; start < len(ks); start += batchGetMax {
		items, err := s.batchGet(ctx, ks[start:min(start+batchGetMax, len(ks))], expr)
		if err != nil {
			return ended, err
		}
		for _, item := range items {
			var job trackedJob
			if attributevalue.UnmarshalMap(item, &job) == nil && job.State == JobDone {
				ended[byPK[job.PK]] = true
			}
		}
	}
	return ended, nil
}

// batchGet reads the items at keys (at most batchGetMax), asking again for
// the keys DynamoDB left unprocessed.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, expr expression.Expression) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt > 5 {
			return items, errors.New("read tracked jobs: keys left unprocessed")
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return items, fmt.Errorf("read tracked jobs: %w", err)
		}
		items = append(items, out.Responses[s.table]...)
		req = out.UnprocessedKeys
	}
	return items, nil
}
