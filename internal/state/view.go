package state

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// ViewClient is the part of the DynamoDB client a View uses: GetItem
// (following one request: `jobwatch submit --wait`) and Scan (listing
// them: `jobwatch jobs`). *dynamodb.Client implements it.
type ViewClient interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// View reads the state table for people: what jobwatch watches, one
// request's progress and its timeline. It never writes.
type View struct {
	db    ViewClient
	table string
}

// NewView returns a View of the table named table.
func NewView(db ViewClient, table string) *View { return &View{db: db, table: table} }

// The states an Entry shows besides a job's ending statuses (COMPLETED,
// FAILED, TIMED_OUT, LOST).
const (
	// EntryStarting: the request was received and its job is being
	// started (or looked for, after an unanswered call).
	EntryStarting = "STARTING"
	// EntryWaiting: the request waits in its environment's line.
	EntryWaiting = "WAITING"
	// EntryRunning: its job runs and jobwatch tracks it.
	EntryRunning = "RUNNING"
)

// EntryStates are the states an Entry may show, for filters.
var EntryStates = []string{EntryStarting, EntryWaiting, EntryRunning,
	contract.StatusCompleted, contract.StatusFailed, contract.StatusTimedOut, contract.StatusLost}

// The sources of an Entry.
const (
	SourceJobwatch   = "jobwatch"   // a job request jobwatch received
	SourceDiscovered = "discovered" // a job the discovery sweep found
)

// Entry is one request jobwatch received, or one job it tracks that no
// request of its own started (found by the discovery sweep).
type Entry struct {
	RequestID              string `json:"requestId,omitempty"`
	AppID                  string `json:"appId"`
	BackendEnvironmentName string `json:"backendEnvironmentName"`
	Operation              string `json:"operation"`
	// State is one of EntryStates.
	State string `json:"state"`
	// Position is the request's place in its environment's line (from 1)
	// while it waits, of Waiting.
	Position int    `json:"position,omitempty"`
	Waiting  int    `json:"waiting,omitempty"`
	JobID    string `json:"jobId,omitempty"`
	// Source is SourceJobwatch or SourceDiscovered.
	Source string `json:"source"`
	// Since is when the request arrived, or the job was first seen.
	Since     time.Time  `json:"since"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// Lookups counts poll's lookups of the job so far.
	Lookups int    `json:"lookups"`
	Error   string `json:"error,omitempty"`
	// Change is the status change that announced the end.
	Change *contract.StatusChange `json:"change,omitempty"`
}

// Ended reports whether the entry reached one of its final states.
func (e *Entry) Ended() bool { return contract.IsTerminal(e.State) }

// Filter selects entries; its zero value selects all.
type Filter struct {
	// States (of EntryStates) selects entries in one of them.
	States []string
	AppID  string
	Env    string
}

func (f Filter) match(e Entry) bool {
	return (len(f.States) == 0 || slices.Contains(f.States, e.State)) &&
		(f.AppID == "" || f.AppID == e.AppID) && (f.Env == "" || f.Env == e.BackendEnvironmentName)
}

// viewedJob is what a View reads of a tracked job's record.
type viewedJob struct {
	trackedJob
	Lookups []Lookup `dynamodbav:"lookups"`
	// EndLookup is the lookup that ended the job (FinishJob).
	EndLookup *Lookup `dynamodbav:"endLookup"`
}

// key is the job's key, from its pk (job#<appId>#<env>#<jobId>).
func (j *viewedJob) key() JobKey {
	parts := strings.SplitN(j.PK, "#", 4)
	if len(parts) != 4 {
		return JobKey{}
	}
	return JobKey{AppID: parts[1], Env: parts[2], JobID: parts[3]}
}

// The attributes Entries reads (the lines' inputs, the jobs' lookups and
// the leases stay behind).
var (
	requestAttributes = []string{"pk", "state", "operation", "appId", "backendEnvironmentName", "arrivedAt",
		"waitingSince", "jobId", "status", "submittedAt", "error", "change"}
	lineAttributes = []string{"pk", "appId", "backendEnvironmentName", "order", "waiting"}
	jobAttributes  = []string{"pk", "state", "source", "operation", "firstSeen", "polls", "tracking", "status", "change", "requestId"}
)

// Entries lists the requests and tracked jobs the table holds (for the
// retention: 15 days after their end) that f selects, oldest first.
func (v *View) Entries(ctx context.Context, f Filter) ([]Entry, error) {
	requests, lines, jobs, err := v.scan(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entry
	covered := map[JobKey]bool{}
	for _, r := range requests {
		var job *viewedJob
		if r.JobID != "" {
			k := JobKey{AppID: r.AppID, Env: r.BackendEnvironmentName, JobID: r.JobID}
			job, covered[k] = jobs[k], true
		}
		if e := requestEntry(r, lines[lineKey(r.AppID, r.BackendEnvironmentName)], job); f.match(e) {
			out = append(out, e)
		}
	}
	for k, j := range jobs {
		if e := jobEntry(k, j); !covered[k] && f.match(e) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.RequestID, b.RequestID), strings.Compare(a.JobID, b.JobID))
	})
	return out, nil
}

// scan reads the requests, lines and tracked jobs of the table.
func (v *View) scan(ctx context.Context) (requests []*Request, lines map[string]*Line, jobs map[JobKey]*viewedJob, err error) {
	pk := expression.Name("pk")
	filter := pk.BeginsWith("req#").Or(pk.BeginsWith("line#"), pk.BeginsWith("job#"))
	names := slices.Concat(requestAttributes, lineAttributes, jobAttributes)
	slices.Sort(names)
	expr, err := expression.NewBuilder().WithFilter(filter).WithProjection(projection(slices.Compact(names))).Build()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scan table %s: %w", v.table, err)
	}
	lines, jobs = map[string]*Line{}, map[JobKey]*viewedJob{}
	p := dynamodb.NewScanPaginator(v.db, &dynamodb.ScanInput{TableName: aws.String(v.table),
		FilterExpression: expr.Filter(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("scan table %s: %w", v.table, err)
		}
		for _, item := range page.Items {
			if err := sortItem(item, &requests, lines, jobs); err != nil {
				return nil, nil, nil, fmt.Errorf("read table %s: %w", v.table, err)
			}
		}
	}
	return requests, lines, jobs, nil
}

// sortItem decodes one scanned item into the collection of its kind.
func sortItem(item map[string]types.AttributeValue, requests *[]*Request, lines map[string]*Line, jobs map[JobKey]*viewedJob) error {
	pk, _ := item["pk"].(*types.AttributeValueMemberS)
	if pk == nil {
		return nil
	}
	var err error
	switch {
	case strings.HasPrefix(pk.Value, "req#"):
		r := new(Request)
		if err = attributevalue.UnmarshalMap(item, r); err == nil {
			*requests = append(*requests, r)
		}
	case strings.HasPrefix(pk.Value, "line#"):
		l := new(Line)
		if err = attributevalue.UnmarshalMap(item, l); err == nil {
			lines[pk.Value] = l
		}
	case strings.HasPrefix(pk.Value, "job#"):
		j := new(viewedJob)
		if err = attributevalue.UnmarshalMap(item, j); err == nil && j.key().JobID != "" {
			jobs[j.key()] = j
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pk.Value, err)
	}
	return nil
}

// requestEntry is the entry of a request, with its environment's line
// and its job's record when it has them.
func requestEntry(r *Request, line *Line, job *viewedJob) Entry {
	e := Entry{RequestID: r.ID(), AppID: r.AppID, BackendEnvironmentName: r.BackendEnvironmentName, Operation: r.Operation,
		JobID: r.JobID, Source: SourceJobwatch, Since: r.ArrivedAt, StartedAt: r.SubmittedAt, Error: r.Error}
	switch r.State {
	case Received, Starting:
		e.State = EntryStarting
	case Waiting:
		e.State = EntryWaiting
		if line != nil {
			e.Position, e.Waiting = slices.Index(line.Order, e.RequestID)+1, line.Waiting
		}
	case Started:
		e.State = EntryRunning
	case Failed, TimedOut, Refused:
		e.State = cmp.Or(r.Status, contract.StatusFailed)
		e.Change = decodeChange(r.Change)
	}
	if job != nil {
		addJob(&e, job)
	}
	return e
}

// jobEntry is the entry of a tracked job no request record covers.
func jobEntry(k JobKey, j *viewedJob) Entry {
	e := Entry{RequestID: j.RequestID, AppID: k.AppID, BackendEnvironmentName: k.Env, Operation: j.Operation,
		JobID: k.JobID, State: EntryRunning, Source: SourceJobwatch, Since: j.FirstSeen}
	if j.Source == sourceSweep {
		e.Source = SourceDiscovered
	}
	var m contract.TrackingMessage
	if json.Unmarshal([]byte(j.Tracking), &m) == nil && !m.SubmittedAt.IsZero() {
		e.StartedAt = &m.SubmittedAt
		if j.Source != sourceSweep {
			e.Since = m.SubmittedAt
		}
	}
	addJob(&e, j)
	return e
}

// addJob completes an entry with what its job's record says.
func addJob(e *Entry, j *viewedJob) {
	e.Lookups = j.Polls
	if j.State == JobDone {
		e.State = cmp.Or(j.Status, contract.StatusCompleted)
		if c := decodeChange(j.Change); c != nil {
			e.Change, e.Error = c, c.Error
		}
	}
}

// sourceSweep is the source the discovery sweep claims jobs as.
const sourceSweep = "sweep"

func decodeChange(s string) *contract.StatusChange {
	if s == "" {
		return nil
	}
	var c contract.StatusChange
	if json.Unmarshal([]byte(s), &c) != nil {
		return nil
	}
	return &c
}

// Follow reads how one request is doing, with GetItem only (the calls a
// CI role following its own requests is granted): nil while the table
// has no record of it yet.
func (v *View) Follow(ctx context.Context, requestID string) (*Entry, error) {
	var r Request
	if found, err := v.get(ctx, requestKey(requestID), &r, requestAttributes...); err != nil || !found {
		return nil, err
	}
	var line *Line
	if r.State == Waiting {
		line = new(Line)
		if found, err := v.get(ctx, lineKey(r.AppID, r.BackendEnvironmentName), line, "order", "waiting"); err != nil || !found {
			line = nil
			if err != nil {
				return nil, err
			}
		}
	}
	var job *viewedJob
	if r.JobID != "" {
		j, err := v.job(ctx, JobKey{AppID: r.AppID, Env: r.BackendEnvironmentName, JobID: r.JobID}, false)
		if err != nil {
			return nil, err
		}
		job = j
	}
	e := requestEntry(&r, line, job)
	return &e, nil
}

// job reads the record of a tracked job; nil when there is none.
func (v *View) job(ctx context.Context, k JobKey, lookups bool) (*viewedJob, error) {
	attrs := jobAttributes
	if lookups {
		attrs = append(slices.Clip(attrs), "lookups", "endLookup", "lastSeen")
	}
	j := new(viewedJob)
	found, err := v.get(ctx, k.pk(), j, attrs...)
	if err != nil || !found {
		return nil, err
	}
	return j, nil
}

func (v *View) get(ctx context.Context, pk string, out any, attrs ...string) (bool, error) {
	return getItem(ctx, v.db, v.table, pk, out, attrs...)
}

// ErrUnknownID says no request and no tracked job has the id.
var ErrUnknownID = errors.New("no request or tracked job has this id")

// Timeline is one request's (or tracked job's) history.
type Timeline struct {
	Entry
	Events []Event `json:"events"`
}

// Event is one step of a timeline.
type Event struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// Sinks are the names notify's sinks claim deliveries under.
var Sinks = []string{"eventbridge", "sns", "slack"}

// Timeline reads the history of the request or tracked job id: received,
// waited, started, each lookup, ended, and to which sinks its status
// changes were delivered.
func (v *View) Timeline(ctx context.Context, id string) (*Timeline, error) {
	var r Request
	found, err := v.get(ctx, requestKey(id), &r, requestAttributes...)
	if err != nil {
		return nil, err
	}
	var job *viewedJob
	switch {
	case found && r.JobID != "":
		if job, err = v.job(ctx, JobKey{AppID: r.AppID, Env: r.BackendEnvironmentName, JobID: r.JobID}, true); err != nil {
			return nil, err
		}
	case !found:
		if job, err = v.findJob(ctx, id); err != nil {
			return nil, err
		}
		if job == nil {
			return nil, fmt.Errorf("%q: %w", id, ErrUnknownID)
		}
		if job.RequestID != "" { // the request that started it, while its record is kept
			if found, err = v.get(ctx, requestKey(job.RequestID), &r, requestAttributes...); err != nil {
				return nil, err
			}
		}
	}
	t := &Timeline{}
	if found {
		var line *Line
		if r.State == Waiting {
			line = new(Line)
			if ok, err := v.get(ctx, lineKey(r.AppID, r.BackendEnvironmentName), line, "order", "waiting"); err != nil || !ok {
				line = nil
			}
		}
		t.Entry = requestEntry(&r, line, job)
		t.requestEvents(&r)
	} else {
		t.Entry = jobEntry(job.key(), job)
	}
	if job != nil {
		t.jobEvents(job)
	}
	if err := v.deliveries(ctx, t); err != nil {
		return nil, err
	}
	slices.SortStableFunc(t.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	return t, nil
}

// findJob looks for the tracked job whose id is jobID (its record's key
// holds the app and environment, which the caller does not know).
func (v *View) findJob(ctx context.Context, jobID string) (*viewedJob, error) {
	pk := expression.Name("pk")
	expr, err := expression.NewBuilder().WithFilter(pk.BeginsWith("job#").And(pk.Contains("#" + jobID))).Build()
	if err != nil {
		return nil, err
	}
	p := dynamodb.NewScanPaginator(v.db, &dynamodb.ScanInput{TableName: aws.String(v.table), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan table %s: %w", v.table, err)
		}
		for _, item := range page.Items {
			j := new(viewedJob)
			if err := attributevalue.UnmarshalMap(item, j); err != nil {
				return nil, fmt.Errorf("read table %s: %w", v.table, err)
			}
			if j.key().JobID == jobID {
				return j, nil
			}
		}
	}
	return nil, nil
}

func (t *Timeline) add(at time.Time, format string, args ...any) {
	if !at.IsZero() {
		t.Events = append(t.Events, Event{At: at, What: fmt.Sprintf(format, args...)})
	}
}

// requestEvents adds what the request's record tells.
func (t *Timeline) requestEvents(r *Request) {
	t.add(r.ArrivedAt, "received: %s on %s/%s", r.Operation, r.AppID, r.BackendEnvironmentName)
	if r.WaitingSince != nil {
		t.add(*r.WaitingSince, "waiting for the environment")
	}
	if r.SubmittedAt != nil && r.JobID != "" {
		waited := ""
		if r.WaitingSince != nil {
			waited = fmt.Sprintf(" after waiting %s", r.SubmittedAt.Sub(*r.WaitingSince).Round(time.Second))
		}
		t.add(*r.SubmittedAt, "started job %s%s", r.JobID, waited)
	}
	if c := t.Change; c != nil && r.JobID == "" {
		t.ended(c)
	}
}

// jobEvents adds what the job's record tells.
func (t *Timeline) jobEvents(j *viewedJob) {
	if j.Source == sourceSweep {
		t.add(j.FirstSeen, "found by the discovery sweep: job %s", j.key().JobID)
	}
	lookups := j.Lookups
	if j.EndLookup != nil {
		lookups = append(slices.Clip(lookups), *j.EndLookup)
	}
	for i, l := range lookups {
		t.add(l.At, "lookup %d: %s", cmp.Or(l.Polls, i+1), l.Status)
	}
	if more := j.Polls - len(lookups); more > 0 && len(j.Lookups) >= MaxLookups {
		t.add(j.LastSeen, "%d more lookups (the first %d are kept), the last one", more, len(j.Lookups))
	}
	if c := t.Change; c != nil && j.State == JobDone {
		t.ended(c)
	}
}

func (t *Timeline) ended(c *contract.StatusChange) {
	at, err := time.Parse(time.RFC3339, c.DetectedAt)
	if err != nil {
		return
	}
	what := fmt.Sprintf("ended %s after %s", c.Status, (time.Duration(c.DurationSeconds * float64(time.Second))).Round(time.Second))
	if c.Error != "" {
		what += ": " + c.Error
	}
	t.add(at, "%s", what)
}

// deliveries adds the deliveries of the entry's status changes (its end
// and a STILL_RUNNING warning) to each sink, from notify's claims.
func (v *View) deliveries(ctx context.Context, t *Timeline) error {
	statuses := []string{contract.StatusStillRunning}
	if t.Ended() {
		statuses = append(statuses, t.State)
	}
	for _, status := range statuses {
		key := contract.EventKey(t.AppID, t.BackendEnvironmentName, t.JobID, t.RequestID, status)
		if t.Change != nil && t.Change.Status == status && t.Change.EventKey != "" {
			key = t.Change.EventKey
		}
		for _, sink := range Sinks {
			var c claim
			found, err := v.get(ctx, DeliveryKey{EventKey: key, Sink: sink}.pk(), &c)
			if err != nil {
				return err
			}
			if found && c.Status == claimCompleted && c.DeliveredAt != nil {
				t.add(*c.DeliveredAt, "%s announced to %s", status, sink)
			}
		}
	}
	return nil
}
