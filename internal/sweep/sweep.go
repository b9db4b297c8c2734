// Package sweep discovers jobs started outside jobwatch (Amplify Studio,
// the Amplify CLI, another tool): on a schedule it lists the running jobs
// of every backend environment of the allowed apps and starts tracking
// each one nobody tracks yet, so it gets the same notifications. It also
// restarts the waiting lines whose wake-ups were lost.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/metrics"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
)

// API is the part of the Admin API the sweep uses.
type API interface {
	GetBackend(context.Context, *amplify.GetBackendInput, ...func(*amplify.Options)) (*amplify.GetBackendOutput, error)
	ListBackendJobs(context.Context, *amplify.ListBackendJobsInput, ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error)
}

// Tracker is the part of the state table the sweep uses: it claims the
// jobs it discovers, so that each is tracked once, and reads the waiting
// lines (without the waiting requests); *state.Store implements it.
type Tracker interface {
	ClaimJob(ctx context.Context, m contract.TrackingMessage, source string, until time.Time) (*state.JobClaim, error)
	MarkJobSent(ctx context.Context, c *state.JobClaim) error
	ReleaseJob(ctx context.Context, c *state.JobClaim) error
	LineSummary(ctx context.Context, appID, env string) (*state.Line, error)
}

// Config configures a Sweeper.
type Config struct {
	// AppIDs are the apps to sweep (ALLOWED_APP_IDS).
	AppIDs []string
	// Environments, when set, limits the sweep to these environments
	// (SWEEP_ENVIRONMENTS); otherwise every environment GetBackend lists.
	Environments []string
	// JobsQueueURL receives the tracking messages (JOBS_QUEUE_URL).
	JobsQueueURL string
	// WaitingQueueURL receives the wake-ups that restart waiting lines
	// (WAITING_QUEUE_URL).
	WaitingQueueURL string
	// StateTable holds the tracked jobs and the lines (STATE_TABLE).
	StateTable string
	// Deadline is how long after its start a job is followed (DEADLINE).
	Deadline time.Duration
	// InitialPollDelay delays the first lookup (INITIAL_POLL_DELAY).
	InitialPollDelay time.Duration
	// MinAge leaves alone the jobs younger than this (SWEEP_MIN_AGE,
	// default 2m): a job started elsewhere is found by the next sweep.
	// (The jobs of requests still starting are left alone by their start
	// markers, whatever their age.)
	MinAge time.Duration
	// MetricsNamespace is the CloudWatch namespace of the metrics
	// (METRICS_NAMESPACE).
	MetricsNamespace string
	LogLevel         slog.Level
}

// ReadConfig reads the sweep function's settings, naming every bad one.
func ReadConfig(env *settings.Env) (Config, error) {
	c := Config{
		AppIDs:           env.List("ALLOWED_APP_IDS"),
		Environments:     env.List("SWEEP_ENVIRONMENTS"),
		JobsQueueURL:     env.QueueURL("JOBS_QUEUE_URL"),
		WaitingQueueURL:  env.QueueURL("WAITING_QUEUE_URL"),
		StateTable:       env.Required("STATE_TABLE"),
		Deadline:         env.Duration("DEADLINE", 6*time.Hour, time.Second, 30*24*time.Hour),
		InitialPollDelay: env.Duration("INITIAL_POLL_DELAY", 10*time.Second, 0, 900*time.Second),
		MinAge:           env.Duration("SWEEP_MIN_AGE", 2*time.Minute, 0, time.Hour),
		MetricsNamespace: env.String("METRICS_NAMESPACE", metrics.DefaultNamespace),
	}
	env.Check("ALLOWED_APP_IDS", len(c.AppIDs) > 0, "is required: the apps whose jobs the sweep discovers")
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")
	if err := env.Err(); err != nil {
		return c, err
	}
	c.LogLevel, _ = logging.ParseLevel(level)
	return c, nil
}

// Clients are the services a Sweeper talks to.
type Clients struct {
	AdminAPI API
	SQS      queue.API
	State    Tracker
	// Metrics, when set, records the function's metrics; HandleLambda
	// writes them at the end of each invocation.
	Metrics *metrics.Recorder
}

// Sweeper runs sweeps.
type Sweeper struct {
	cfg     Config
	api     API
	sqs     *queue.Sender
	tracked Tracker
	metrics *metrics.Recorder
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Sweeper; now is the clock (time.Now in production).
func New(cfg Config, c Clients, now func() time.Time, log *slog.Logger) *Sweeper {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg, api: c.AdminAPI, sqs: queue.NewSender(c.SQS), tracked: c.State, metrics: c.Metrics, now: now, log: log}
}

// Result says what a sweep found.
type Result struct {
	Apps         int `json:"apps"`
	Environments int `json:"environments"`
	Running      int `json:"running"`
	// Young counts the running jobs left to the next sweep (MinAge).
	Young int `json:"young"`
	// Reconciling counts the running jobs left alone because a request of
	// their environment is starting a job of their operation (see
	// state.Line.Reconciling): the job may be that request's.
	Reconciling int `json:"reconciling"`
	Started     int `json:"started"`
	// Restarted counts the waiting lines given a wake-up: requests wait,
	// no job runs, and their wake-up is missing or overdue.
	Restarted int `json:"restarted"`
}

func (r *Result) add(o Result) {
	r.Running, r.Young, r.Reconciling, r.Started, r.Restarted =
		r.Running+o.Running, r.Young+o.Young, r.Reconciling+o.Reconciling, r.Started+o.Started, r.Restarted+o.Restarted
}

// HandleLambda is the function's handler (for lambda.Start): one sweep,
// its metrics written at the end. A scheduled event carries nothing the
// sweep needs.
func (s *Sweeper) HandleLambda(ctx context.Context) (Result, error) {
	defer func() {
		if err := s.metrics.Flush(); err != nil {
			s.log.WarnContext(ctx, "could not write the metrics", "error", err.Error())
		}
	}()
	return s.Sweep(ctx)
}

// Sweep lists the running jobs of every environment of the allowed apps
// (all pages) and starts tracking those not tracked yet, and restarts the
// lines that lost their wake-ups. Errors of one app or environment do not
// stop the others; they are returned joined, so the scheduled invocation
// is retried.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	var res Result
	var errs []error
	for _, app := range s.cfg.AppIDs {
		envs := s.cfg.Environments
		if len(envs) == 0 {
			out, err := s.api.GetBackend(ctx, &amplify.GetBackendInput{AppId: aws.String(app)})
			if err != nil {
				errs = append(errs, s.putOff(fmt.Errorf("list the environments of app %s: %w", app, err)))
				continue
			}
			envs = out.BackendEnvironmentList
		}
		res.Apps++
		for _, env := range envs {
			res.Environments++
			r, err := s.sweepEnv(ctx, app, env)
			res.add(r)
			if err != nil {
				errs = append(errs, s.putOff(err))
			}
		}
	}
	s.log.InfoContext(ctx, "sweep done", "apps", res.Apps, "environments", res.Environments, "running", res.Running,
		"reconciling", res.Reconciling, "started", res.Started, "restarted", res.Restarted)
	return res, errors.Join(errs...)
}

// sweepEnv sweeps one environment. The running jobs are listed before the
// line is read: a request marks itself starting before its call, so a job
// it started that the listing shows has its marker on the line read after.
func (s *Sweeper) sweepEnv(ctx context.Context, app, env string) (Result, error) {
	jobs, _, err := amplify.ListBackendJobsAll(ctx, s.api, &amplify.ListBackendJobsInput{
		AppId: aws.String(app), BackendEnvironmentName: aws.String(env), Status: aws.String(amplify.JobStatusRunning),
	}, amplify.PaginationConfig{PageSize: 25})
	if err != nil {
		return Result{}, fmt.Errorf("list the running jobs of %s/%s: %w", app, env, err)
	}
	line, err := s.tracked.LineSummary(ctx, app, env)
	if err != nil {
		return Result{}, fmt.Errorf("read the line of %s/%s: %w", app, env, err)
	}
	var res Result
	var errs []error
	now := s.now()
	for _, j := range jobs {
		if aws.ToString(j.Status) != amplify.JobStatusRunning || aws.ToString(j.JobId) == "" {
			continue
		}
		res.Running++
		created, known := contract.ParseServiceTime(aws.ToString(j.CreateTime))
		switch {
		case known && now.Sub(created) < s.cfg.MinAge:
			res.Young++
		case !known && len(line.Starting) > 0, known && line.Reconciling(aws.ToString(j.Operation), created):
			res.Reconciling++
		default:
			ok, err := s.track(ctx, app, env, j)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				res.Started++
			}
		}
	}
	restarted, err := s.restart(ctx, line, res.Running)
	if err != nil {
		errs = append(errs, err)
	}
	if restarted {
		res.Restarted++
	}
	return res, errors.Join(errs...)
}

// restart sends a wake-up to a line whose wake-up is missing or overdue
// when requests wait in it and no job runs on the environment (so no
// job's end will wake it), or when a request's start marker is on it (the
// wake-up settles a marker whose request is gone). The wake-up belongs to
// no chain: submit starts the line's chain from it.
func (s *Sweeper) restart(ctx context.Context, line *state.Line, running int) (bool, error) {
	if line.WakePending(s.now()) || (line.Waiting == 0 || running > 0) && len(line.Starting) == 0 {
		return false, nil
	}
	if _, err := s.sqs.SendJSON(ctx, s.cfg.WaitingQueueURL, contract.NewWakeup(line.AppID, line.BackendEnvironmentName), 0); err != nil {
		return false, fmt.Errorf("restart the line of %s/%s: %w", line.AppID, line.BackendEnvironmentName, err)
	}
	s.log.InfoContext(logging.With(ctx, logging.Job(line.AppID, line.BackendEnvironmentName, "")...),
		"restarted a waiting line whose wake-up was missing or overdue", "waiting", line.Waiting, "starting", len(line.Starting))
	return true, nil
}

// track starts tracking one job unless someone holds it: the job's record
// is claimed first (so two sweeps cannot both track it), then the tracking
// message sent, then the claim marked sent. If sending fails the claim is
// released for the next sweep; if the sweep fails before either, the
// claim's lease runs out and the next sweep takes it over.
func (s *Sweeper) track(ctx context.Context, app, env string, j types.BackendJobRespObj) (bool, error) {
	m := s.trackingMessage(app, env, j)
	jctx := logging.With(ctx, logging.Job(app, env, m.JobID)...)
	claim, err := s.tracked.ClaimJob(jctx, m, "sweep", s.leaseUntil(ctx))
	if err != nil || claim == nil {
		return false, err
	}
	if _, err := s.sqs.SendJSON(jctx, s.cfg.JobsQueueURL, m, s.cfg.InitialPollDelay); err != nil {
		if rerr := s.tracked.ReleaseJob(jctx, claim); rerr != nil {
			s.log.WarnContext(jctx, "could not release the claim of an untracked job; its lease will run out", "error", rerr.Error())
		}
		return false, fmt.Errorf("send the tracking message of job %s: %w", m.JobID, err)
	}
	if err := s.tracked.MarkJobSent(jctx, claim); err != nil {
		s.log.WarnContext(jctx, "could not mark the tracking message sent", "error", err.Error())
	}
	s.log.InfoContext(jctx, "discovered a job started outside jobwatch; tracking it", "operation", m.Operation)
	return true, nil
}

// trackingMessage is the tracking message of a discovered job.
func (s *Sweeper) trackingMessage(app, env string, j types.BackendJobRespObj) contract.TrackingMessage {
	now := s.now().UTC()
	start := now
	if t, ok := contract.ParseServiceTime(aws.ToString(j.CreateTime)); ok {
		start = t
	}
	m := contract.TrackingMessage{
		Version: contract.TrackingVersion, AppID: app, BackendEnvironmentName: env, JobID: aws.ToString(j.JobId),
		Operation: aws.ToString(j.Operation), SubmittedAt: start, Deadline: start.Add(s.cfg.Deadline),
		LastStatus: amplify.JobStatusRunning, CreateTime: aws.ToString(j.CreateTime),
	}
	if m.Operation == "" {
		m.Operation = "Unknown"
	}
	if !m.Deadline.After(now) {
		// Older than the deadline already: one lookup settles it.
		m.Deadline = now.Add(time.Minute)
	}
	return m
}

// claimLease is how long a sweep holds a job it claimed when its
// invocation has no deadline.
const claimLease = 5 * time.Minute

// leaseUntil is when a claim taken now lapses: with the invocation.
func (s *Sweeper) leaseUntil(ctx context.Context) time.Time {
	d := claimLease
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)+5*time.Second)
	}
	return s.now().Add(d)
}

// putOff counts work put off to the next sweep (the Backoffs metric) and
// returns err.
func (s *Sweeper) putOff(err error) error {
	reason := "Other"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		switch oe.ServiceID {
		case amplify.ServiceID:
			reason = "AdminApiUnavailable"
		case "DynamoDB":
			reason = "StateTable"
		case "SQS":
			reason = "Queue"
		}
	}
	var throttled *types.TooManyRequestsException
	if errors.As(err, &throttled) {
		reason = "AdminApiThrottled"
	}
	s.metrics.Count(metrics.Backoffs, metrics.Dims{"Function": "sweep", "Reason": reason})
	return err
}
