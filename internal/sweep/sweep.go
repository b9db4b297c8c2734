// Package sweep discovers jobs started outside jobwatch (Amplify Studio,
// the Amplify CLI, another tool): on a schedule it lists the running jobs
// of every backend environment of the allowed apps and starts tracking
// each one nobody tracks yet, so it gets the same notifications.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/state"
)

// API is the part of the Admin API the sweep uses.
type API interface {
	GetBackend(context.Context, *amplify.GetBackendInput, ...func(*amplify.Options)) (*amplify.GetBackendOutput, error)
	ListBackendJobs(context.Context, *amplify.ListBackendJobsInput, ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error)
}

// Tracker claims the jobs the sweep discovers in the state table, so that
// each is tracked once; *state.Store implements it.
type Tracker interface {
	TrackJob(ctx context.Context, m contract.TrackingMessage, source string) (started bool, err error)
	ForgetJob(ctx context.Context, k state.JobKey) error
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
	// StateTable holds the tracked jobs (STATE_TABLE).
	StateTable string
	// Deadline is how long after its start a job is followed (DEADLINE).
	Deadline time.Duration
	// InitialPollDelay delays the first lookup (INITIAL_POLL_DELAY).
	InitialPollDelay time.Duration
	// MinAge leaves alone the jobs younger than this (SWEEP_MIN_AGE,
	// default 2m): submit records the jobs it starts right after starting
	// them, and a sweep between the two would track one of jobwatch's own
	// jobs without its request id. A job started elsewhere is found by the
	// next sweep.
	MinAge   time.Duration
	LogLevel slog.Level
}

// ReadConfig reads the sweep function's settings, naming every bad one.
func ReadConfig(env *settings.Env) (Config, error) {
	c := Config{
		AppIDs:           env.List("ALLOWED_APP_IDS"),
		Environments:     env.List("SWEEP_ENVIRONMENTS"),
		JobsQueueURL:     env.QueueURL("JOBS_QUEUE_URL"),
		StateTable:       env.Required("STATE_TABLE"),
		Deadline:         env.Duration("DEADLINE", 6*time.Hour, time.Second, 30*24*time.Hour),
		InitialPollDelay: env.Duration("INITIAL_POLL_DELAY", 10*time.Second, 0, 900*time.Second),
		MinAge:           env.Duration("SWEEP_MIN_AGE", 2*time.Minute, 0, time.Hour),
	}
	env.Check("ALLOWED_APP_IDS", len(c.AppIDs) > 0, "is required: the apps whose jobs the sweep discovers")
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")
	if err := env.Err(); err != nil {
		return c, err
	}
	c.LogLevel, _ = logging.ParseLevel(level)
	return c, nil
}

// Sweeper runs sweeps.
type Sweeper struct {
	cfg     Config
	api     API
	sqs     *queue.Sender
	tracked Tracker
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Sweeper; now is the clock (time.Now in production).
func New(cfg Config, api API, sqs queue.API, store Tracker, now func() time.Time, log *slog.Logger) *Sweeper {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg, api: api, sqs: queue.NewSender(sqs), tracked: store, now: now, log: log}
}

// Result says what a sweep found.
type Result struct {
	Apps         int `json:"apps"`
	Environments int `json:"environments"`
	Running      int `json:"running"`
	// Young counts the running jobs left to the next sweep (MinAge).
	Young   int `json:"young"`
	Started int `json:"started"`
}

// Sweep lists the running jobs of every environment of the allowed apps
// (all pages) and starts tracking those not tracked yet. Errors of one app
// or environment do not stop the others; they are returned joined, so the
// scheduled invocation is retried.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	var res Result
	var errs []error
	for _, app := range s.cfg.AppIDs {
		envs := s.cfg.Environments
		if len(envs) == 0 {
			out, err := s.api.GetBackend(ctx, &amplify.GetBackendInput{AppId: aws.String(app)})
			if err != nil {
				errs = append(errs, fmt.Errorf("list the environments of app %s: %w", app, err))
				continue
			}
			envs = out.BackendEnvironmentList
		}
		res.Apps++
		for _, env := range envs {
			res.Environments++
			running, young, started, err := s.sweepEnv(ctx, app, env)
			res.Running += running
			res.Young += young
			res.Started += started
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.log.InfoContext(ctx, "sweep done", "apps", res.Apps, "environments", res.Environments, "running", res.Running, "started", res.Started)
	return res, errors.Join(errs...)
}

func (s *Sweeper) sweepEnv(ctx context.Context, app, env string) (running, young, started int, err error) {
	jobs, _, err := amplify.ListBackendJobsAll(ctx, s.api, &amplify.ListBackendJobsInput{
		AppId: aws.String(app), BackendEnvironmentName: aws.String(env), Status: aws.String(amplify.JobStatusRunning),
	}, amplify.PaginationConfig{PageSize: 25})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("list the running jobs of %s/%s: %w", app, env, err)
	}
	now := s.now()
	var errs []error
	for _, j := range jobs {
		if aws.ToString(j.Status) != amplify.JobStatusRunning || aws.ToString(j.JobId) == "" {
			continue
		}
		running++
		if created, perr := time.Parse(time.RFC3339Nano, aws.ToString(j.CreateTime)); perr == nil && now.Sub(created) < s.cfg.MinAge {
			young++
			continue
		}
		ok, err := s.track(ctx, app, env, j.JobId, j.Operation, j.CreateTime)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			started++
		}
	}
	return running, young, started, errors.Join(errs...)
}

// track starts tracking one job unless it is tracked already: the record
// is claimed first (so two sweeps cannot both track it), then the tracking
// message sent; if sending fails the claim is dropped for the next sweep.
func (s *Sweeper) track(ctx context.Context, app, env string, jobID, operation, createTime *string) (bool, error) {
	now := s.now().UTC()
	start := now
	if t, err := time.Parse(time.RFC3339Nano, aws.ToString(createTime)); err == nil {
		start = t
	}
	m := contract.TrackingMessage{
		Version: contract.TrackingVersion, AppID: app, BackendEnvironmentName: env, JobID: aws.ToString(jobID),
		Operation: aws.ToString(operation), SubmittedAt: start, Deadline: start.Add(s.cfg.Deadline),
		LastStatus: amplify.JobStatusRunning, CreateTime: aws.ToString(createTime),
	}
	if m.Operation == "" {
		m.Operation = "Unknown"
	}
	if !m.Deadline.After(now) {
		// Older than the deadline already: one lookup settles it.
		m.Deadline = now.Add(time.Minute)
	}
	jctx := logging.With(ctx, logging.Job(app, env, m.JobID)...)
	started, err := s.tracked.TrackJob(jctx, m, "sweep")
	if err != nil || !started {
		return false, err
	}
	if _, err := s.sqs.SendJSON(jctx, s.cfg.JobsQueueURL, m, s.cfg.InitialPollDelay); err != nil {
		if ferr := s.tracked.ForgetJob(jctx, state.JobKeyOf(m)); ferr != nil {
			s.log.WarnContext(jctx, "could not drop the claim of an untracked job", "error", ferr.Error())
		}
		return false, fmt.Errorf("send the tracking message of job %s: %w", m.JobID, err)
	}
	s.log.InfoContext(jctx, "discovered a job started outside jobwatch; tracking it", "operation", m.Operation)
	return true, nil
}
