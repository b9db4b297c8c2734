package bench

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/poll"
)

// serviceTime is how the service writes CreateTime and UpdateTime (as the
// emulator's HTTP front does): ISO 8601, UTC, milliseconds.
const serviceTime = "2006-01-02T15:04:05.000Z07:00"

// maxListResults is ListBackendJobs' largest page.
const maxListResults = 25

// adminAPI is the Admin API poll sees: GetBackendJob and ListBackendJobs
// answered from the emulator's job model, as the service would answer
// them, and counted. poll calls it from several goroutines per batch.
type adminAPI struct {
	jobs  *emulator.Jobs
	clock emulator.Clock

	// ended reports whether the simulation has seen job's status change
	// already: a lookup after that is a lookup of a duplicate message.
	ended func(jobID string) bool
	// opOf names the operation a call is for: the job's (GetBackendJob),
	// or that of the job last started on the environment (ListBackendJobs).
	opOf func(env, jobID string) string
	// byOp counts the calls per operation.
	byOp map[string]int

	mu    sync.Mutex
	gets  int
	lists int
	// afterEnd counts the GetBackendJob calls for jobs that had ended.
	afterEnd int
	// second and inSecond find the busiest second of the run; calls come
	// in time order because the simulation's clock only moves forward.
	second   int64
	inSecond int
	peak     int
	// times caches the formatted times of each job: formatting is much
	// of a simulated lookup's cost, and a job's times change once.
	times map[string]*jobTimes
}

type jobTimes struct {
	create, update         time.Time
	createText, updateText string
}

var _ poll.JobAPI = (*adminAPI)(nil)

func (a *adminAPI) count(list bool, env, jobID string) {
	afterEnd := !list && a.ended != nil && a.ended(jobID)
	op := ""
	if a.opOf != nil {
		op = a.opOf(env, jobID)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byOp != nil {
		a.byOp[op]++
	}
	if list {
		a.lists++
	} else {
		a.gets++
	}
	if afterEnd {
		a.afterEnd++
	}
	if s := a.clock.Now().Unix(); s != a.second {
		a.second, a.inSecond = s, 0
	}
	a.inSecond++
	a.peak = max(a.peak, a.inSecond)
}

// GetBackendJob implements poll.JobAPI: NotFound for a job the model does
// not know on that app and environment.
func (a *adminAPI) GetBackendJob(_ context.Context, in *amplify.GetBackendJobInput, _ ...func(*amplify.Options)) (*amplify.GetBackendJobOutput, error) {
	appID, env, jobID := aws.ToString(in.AppId), aws.ToString(in.BackendEnvironmentName), aws.ToString(in.JobId)
	a.count(false, env, jobID)
	j, ok := a.jobs.Get(appID, env, jobID)
	if !ok {
		return nil, &types.NotFoundException{ResourceType: aws.String("job"),
			Message: aws.String("There is no job " + jobID + " for appId " + appID + " and backendEnvironmentName " + env)}
	}
	t := a.formatted(j)
	return &amplify.GetBackendJobOutput{
		AppId: aws.String(j.AppId), BackendEnvironmentName: aws.String(env), JobId: aws.String(j.JobId),
		Operation: aws.String(j.Operation), Status: aws.String(j.Status), Error: optional(j.Error),
		CreateTime: &t.createText, UpdateTime: &t.updateText,
	}, nil
}

// ListBackendJobs implements poll.JobAPI: newest first, at most 25 a page
// (MaxResults, default 25), filtered like the service, with a nextToken
// when more jobs match.
func (a *adminAPI) ListBackendJobs(_ context.Context, in *amplify.ListBackendJobsInput, _ ...func(*amplify.Options)) (*amplify.ListBackendJobsOutput, error) {
	a.count(true, aws.ToString(in.AppId)+"/"+aws.ToString(in.BackendEnvironmentName), "")
	limit := maxListResults
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
		if limit < 1 || limit > maxListResults {
			return nil, &types.BadRequestException{Message: aws.String("maxResults must be between 1 and 25")}
		}
	}
	var before uint64
	if in.NextToken != nil {
		n, err := strconv.ParseUint(*in.NextToken, 10, 64)
		if err != nil || n == 0 {
			return nil, &types.BadRequestException{Message: aws.String("Invalid nextToken")}
		}
		before = n
	}
	env := aws.ToString(in.BackendEnvironmentName)
	jobs, more := a.jobs.List(aws.ToString(in.AppId), env,
		emulator.JobFilter{JobId: aws.ToString(in.JobId), Operation: aws.ToString(in.Operation), Status: aws.ToString(in.Status)},
		before, limit)
	out := &amplify.ListBackendJobsOutput{Jobs: make([]types.BackendJobRespObj, 0, len(jobs))}
	for _, j := range jobs {
		t := a.formatted(j)
		out.Jobs = append(out.Jobs, types.BackendJobRespObj{
			AppId: aws.String(j.AppId), BackendEnvironmentName: aws.String(env), JobId: aws.String(j.JobId),
			Operation: aws.String(j.Operation), Status: aws.String(j.Status), Error: optional(j.Error),
			CreateTime: aws.String(t.createText), UpdateTime: aws.String(t.updateText),
		})
	}
	if more {
		out.NextToken = aws.String(strconv.FormatUint(jobs[len(jobs)-1].Seq, 10))
	}
	return out, nil
}

// formatted returns a copy of the job's times as the service writes them.
func (a *adminAPI) formatted(j emulator.Job) jobTimes {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.times[j.JobId]
	if t == nil {
		t = &jobTimes{create: j.CreateTime, createText: formatTime(j.CreateTime)}
		t.update, t.updateText = t.create, t.createText
		a.times[j.JobId] = t
	}
	if !j.UpdateTime.Equal(t.update) {
		t.update, t.updateText = j.UpdateTime, formatTime(j.UpdateTime)
	}
	return *t
}

func formatTime(t time.Time) string { return t.UTC().Format(serviceTime) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
