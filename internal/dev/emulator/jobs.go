package emulator

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// DefaultJobDuration is how long a job runs when nothing else is configured.
const DefaultJobDuration = 3 * time.Second

// DurationFunc returns how long a new job of operation runs. r is the job
// model's seeded source: draw from it (and nothing else) and a seed replays
// the same durations, e.g. lognormal ones for a benchmark.
type DurationFunc func(operation string, r *rand.Rand) time.Duration

// FixedDurations returns a DurationFunc giving every job the same duration:
// perOperation[operation] when set, def otherwise.
func FixedDurations(def time.Duration, perOperation map[string]time.Duration) DurationFunc {
	per := make(map[string]time.Duration, len(perOperation))
	for op, d := range perOperation {
		per[op] = d
	}
	return func(operation string, _ *rand.Rand) time.Duration {
		if d, ok := per[operation]; ok {
			return d
		}
		return def
	}
}

// Job is a backend job as clients see it at one moment.
type Job struct {
	// Seq orders jobs by creation: a newer job has a higher Seq.
	Seq                    uint64
	AppId                  string
	BackendEnvironmentName string // "" for an app-wide job
	JobId                  string
	Operation              string
	Status                 string
	Error                  string
	CreateTime, UpdateTime time.Time
}

// JobFilter selects jobs by exact match; empty fields match every job.
type JobFilter struct {
	JobId, Operation, Status string
}

func (f JobFilter) match(j Job) bool {
	return (f.JobId == "" || f.JobId == j.JobId) &&
		(f.Operation == "" || f.Operation == j.Operation) &&
		(f.Status == "" || f.Status == j.Status)
}

// JobUpdate changes a job; empty fields leave it as it is.
type JobUpdate struct {
	Operation, Status string
}

// JobStats counts the jobs created and their statuses now.
type JobStats struct {
	Created  int            `json:"created"`
	ByStatus map[string]int `json:"byStatus"`
}

// ErrNoSuchJob is returned for a job id that is not in the model.
var ErrNoSuchJob = errors.New("no such job")

// PendingJobError refuses a job while another one runs on the same app and
// environment. Its message is the service's.
type PendingJobError struct {
	AppId, BackendEnvironmentName string
	// JobId is the running job in the way.
	JobId string
}

func (e *PendingJobError) Error() string {
	return fmt.Sprintf("There is already a pending job for the requested appId %s and backendEnvironmentName %s. Please wait for it to complete",
		e.AppId, e.BackendEnvironmentName)
}

// JobEndedError refuses to change the status of a job that has ended.
type JobEndedError struct {
	JobId, Status string
}

func (e *JobEndedError) Error() string {
	return fmt.Sprintf("job %s has already ended with status %s", e.JobId, e.Status)
}

// JobsConfig configures a Jobs model. Zero values mean the defaults.
type JobsConfig struct {
	// Clock derives job statuses; default the real clock.
	Clock Clock
	// Rand draws job ids, outcomes and durations; default a source seeded
	// with 0, so runs repeat.
	Rand *rand.Rand
	// Durations gives each new job its duration; default
	// FixedDurations(DefaultJobDuration, nil).
	Durations DurationFunc
	// FailRate is the share of jobs that end FAILED, StuckRate the share
	// that never end.
	FailRate, StuckRate float64
	// FailOperations lists operations whose jobs always end FAILED
	// (unless stuck); names as the API spells them.
	FailOperations []string
}

// Jobs is the emulator's job model, usable without HTTP: jobs are created
// RUNNING and end COMPLETED (or FAILED) once their duration has passed on
// the clock; stuck jobs never end. Statuses are derived when a job is
// read, so no timer runs per job. One job at a time runs per app and
// environment; an app-wide job (empty environment name) waits for all of
// the app's environments and blocks them while it runs. Jobs is safe for
// concurrent use.
type Jobs struct {
	clock     Clock
	durations DurationFunc

	mu        sync.Mutex
	rand      *rand.Rand
	failRate  float64
	stuckRate float64
	failOps   map[string]bool
	seq       uint64
	byID      map[string]*jobRecord
	// byScope lists each app and environment's jobs in creation order;
	// scope{app, ""} holds the app-wide jobs.
	byScope map[scope][]*jobRecord
	// active holds, per app and environment, the job that may still be
	// running; entries are dropped lazily once their job has ended.
	active map[string]map[string]*jobRecord
}

type scope struct{ app, env string }

// jobRecord is what the model decided for a job when it was created.
type jobRecord struct {
	seq          uint64
	app, env, id string
	op           string
	created      time.Time
	ends         time.Time // meaningless when stuck
	stuck, fails bool
	failure      string
	// pinned is a status set by UpdateBackendJob; it overrides the clock.
	pinned, pinnedError string
	pinnedAt            time.Time
}

// NewJobs returns an empty job model.
func NewJobs(cfg JobsConfig) *Jobs {
	j := &Jobs{
		clock:     cfg.Clock,
		durations: cfg.Durations,
		rand:      cfg.Rand,
		failRate:  cfg.FailRate,
		stuckRate: cfg.StuckRate,
		failOps:   operationSet(cfg.FailOperations),
		byID:      map[string]*jobRecord{},
		byScope:   map[scope][]*jobRecord{},
		active:    map[string]map[string]*jobRecord{},
	}
	if j.clock == nil {
		j.clock = realClock{}
	}
	if j.durations == nil {
		j.durations = FixedDurations(DefaultJobDuration, nil)
	}
	if j.rand == nil {
		j.rand = rand.New(rand.NewPCG(0, 0))
	}
	return j
}

// SetRates changes the share of new jobs that fail and that get stuck.
func (j *Jobs) SetRates(failRate, stuckRate float64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.failRate, j.stuckRate = failRate, stuckRate
}

// SetFailOperations changes the operations whose new jobs always fail.
func (j *Jobs) SetFailOperations(ops []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.failOps = operationSet(ops)
}

// operationSet indexes operations by API name, whatever form they are
// given in (CloneBackend, clone_backend, clone-backend).
func operationSet(ops []string) map[string]bool {
	set := map[string]bool{}
	for _, op := range ops {
		if o, err := amplify.LookupOperation(op); err == nil {
			set[o.Name] = true
		}
	}
	return set
}

// failures are the errors failed jobs report, in the service's style.
var failures = []string{
	"Stack update failed: resource UserPool failed to create (CREATE_FAILED)",
	"The CloudFormation deployment failed: rolled back (UPDATE_ROLLBACK_COMPLETE)",
	"Internal error while provisioning the backend; retry the operation",
	"Resource limit exceeded while provisioning the backend",
}

// Create starts a job of operation on app and environment env ("" for an
// app-wide job). It fails with a *PendingJobError while another job runs
// there.
func (j *Jobs) Create(appID, env, operation string) (Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.clock.Now().UTC()
	if err := j.pending(appID, env, now); err != nil {
		return Job{}, err
	}
	// Draw the same numbers for every job, whatever its outcome, so one
	// job's outcome does not shift the next job's draws.
	id := j.newID()
	outcome := j.rand.Float64()
	failure := failures[j.rand.IntN(len(failures))]
	d := max(j.durations(operation, j.rand), 0)
	j.seq++
	r := &jobRecord{
		seq: j.seq, app: appID, env: env, id: id, op: operation,
		created: now, ends: now.Add(d),
		stuck: outcome < j.stuckRate,
		fails: outcome >= j.stuckRate && (outcome < j.stuckRate+j.failRate || j.failOps[operation]),
	}
	if r.fails {
		r.failure = failure
	}
	j.byID[id] = r
	k := scope{appID, env}
	j.byScope[k] = append(j.byScope[k], r)
	if j.active[appID] == nil {
		j.active[appID] = map[string]*jobRecord{}
	}
	j.active[appID][env] = r
	return r.view(now), nil
}

// newID draws a job id not yet taken.
func (j *Jobs) newID() string {
	for {
		if id := newUUID(j.rand); j.byID[id] == nil {
			return id
		}
	}
}

// newUUID draws a version 4 UUID from r.
func newUUID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

// pending refuses a new job on app and env while another one runs there:
// the oldest such job, so that errors repeat run to run.
func (j *Jobs) pending(appID, env string, now time.Time) *PendingJobError {
	running := j.active[appID]
	var blocker *jobRecord
	consider := func(e string, r *jobRecord) {
		if r.view(now).ended() {
			delete(running, e)
		} else if blocker == nil || r.seq < blocker.seq {
			blocker = r
		}
	}
	if env == "" {
		for e, r := range running {
			consider(e, r)
		}
	} else {
		for _, e := range []string{env, ""} {
			if r := running[e]; r != nil {
				consider(e, r)
			}
		}
	}
	if blocker == nil {
		return nil
	}
	// An app-wide request names the environment in the way.
	return &PendingJobError{AppId: appID, BackendEnvironmentName: cmp.Or(env, blocker.env, "*"), JobId: blocker.id}
}

// CanStart returns the *PendingJobError that Create would return now for
// a job on app and env, or nil.
func (j *Jobs) CanStart(appID, env string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.pending(appID, env, j.clock.Now().UTC()); err != nil {
		return err
	}
	return nil
}

// Get returns the job jobID of app, if it belongs to env or is app-wide.
func (j *Jobs) Get(appID, env, jobID string) (Job, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.lookup(appID, env, jobID)
	if r == nil {
		return Job{}, false
	}
	return r.view(j.clock.Now().UTC()), true
}

func (j *Jobs) lookup(appID, env, jobID string) *jobRecord {
	r := j.byID[jobID]
	if r == nil || r.app != appID || (r.env != "" && r.env != env) {
		return nil
	}
	return r
}

// Has reports whether any job was ever created on app and env, or app-wide
// on app.
func (j *Jobs) Has(appID, env string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.byScope[scope{appID, env}]) > 0 || len(j.byScope[scope{appID, ""}]) > 0
}

// List returns, newest first, up to limit jobs of app and env (app-wide
// jobs included) that match f and are older than the job with Seq before
// (0: from the newest). more reports whether further jobs match.
func (j *Jobs) List(appID, env string, f JobFilter, before uint64, limit int) (jobs []Job, more bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.clock.Now().UTC()
	own, wide := j.byScope[scope{appID, env}], j.byScope[scope{appID, ""}]
	if env == "" {
		own = nil // the app-wide list is wide already
	}
	// Walk both creation-ordered lists from the newest job below before.
	below := func(rs []*jobRecord) int {
		if before == 0 {
			return len(rs)
		}
		return sort.Search(len(rs), func(i int) bool { return rs[i].seq >= before })
	}
	i, k := below(own), below(wide)
	for i > 0 || k > 0 {
		var r *jobRecord
		if k == 0 || (i > 0 && own[i-1].seq > wide[k-1].seq) {
			i--
			r = own[i]
		} else {
			k--
			r = wide[k]
		}
		v := r.view(now)
		if !f.match(v) {
			continue
		}
		if len(jobs) == limit {
			return jobs, true
		}
		jobs = append(jobs, v)
	}
	return jobs, false
}

// Update changes a job's operation and status. A status set this way
// overrides the clock: COMPLETED or FAILED ends the job and frees its
// environment; any other status holds the job in it until set again. The
// status of an ended job cannot change.
func (j *Jobs) Update(appID, env, jobID string, u JobUpdate) (Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.lookup(appID, env, jobID)
	if r == nil {
		return Job{}, ErrNoSuchJob
	}
	now := j.clock.Now().UTC()
	if cur := r.view(now); u.Status != "" && u.Status != cur.Status {
		if cur.ended() {
			return Job{}, &JobEndedError{JobId: jobID, Status: cur.Status}
		}
		r.pinned, r.pinnedAt, r.pinnedError = u.Status, now, ""
		if u.Status == amplify.JobStatusFailed {
			r.pinnedError = "Job set to FAILED by UpdateBackendJob"
		}
	}
	if u.Operation != "" {
		r.op = u.Operation
	}
	return r.view(now), nil
}

// Stats counts the jobs created and their statuses now.
func (j *Jobs) Stats() JobStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.clock.Now().UTC()
	s := JobStats{Created: len(j.byID), ByStatus: map[string]int{}}
	for _, r := range j.byID {
		s.ByStatus[r.view(now).Status]++
	}
	return s
}

// view derives what clients see of the job at now.
func (r *jobRecord) view(now time.Time) Job {
	v := Job{
		Seq: r.seq, AppId: r.app, BackendEnvironmentName: r.env, JobId: r.id, Operation: r.op,
		Status: amplify.JobStatusRunning, CreateTime: r.created, UpdateTime: r.created,
	}
	switch {
	case r.pinned != "":
		v.Status, v.Error, v.UpdateTime = r.pinned, r.pinnedError, r.pinnedAt
	case r.stuck || now.Before(r.ends):
	case r.fails:
		v.Status, v.Error, v.UpdateTime = amplify.JobStatusFailed, r.failure, r.ends
	default:
		v.Status, v.UpdateTime = amplify.JobStatusCompleted, r.ends
	}
	return v
}

// ended reports whether the job is in a terminal status: only COMPLETED
// and FAILED are, as for the service.
func (v Job) ended() bool {
	return v.Status == amplify.JobStatusCompleted || v.Status == amplify.JobStatusFailed
}
