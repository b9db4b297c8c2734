package emulator_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

func clone(f *fixture, env, target string) (*amplify.CloneBackendOutput, error) {
	return f.client.CloneBackend(context.Background(), &amplify.CloneBackendInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String(env), TargetEnvironmentName: aws.String(target)})
}

func importStorage(f *fixture, env, bucket string) (*amplify.ImportBackendStorageOutput, error) {
	return f.client.ImportBackendStorage(context.Background(), &amplify.ImportBackendStorageInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String(env), BucketName: aws.String(bucket), ServiceName: types.ServiceNameS3})
}

// cloneAndImport starts a CloneBackend job on dev and an
// ImportBackendStorage job on staging and returns their ids.
func cloneAndImport(t *testing.T, f *fixture) (cloned, imported string) {
	t.Helper()
	c, err := clone(f, "dev", "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	i, err := importStorage(f, "staging", "b")
	if err != nil {
		t.Fatal(err)
	}
	return *c.JobId, *i.JobId
}

func getJob(f *fixture, env, jobID string) (*amplify.GetBackendJobOutput, error) {
	return f.client.GetBackendJob(context.Background(), &amplify.GetBackendJobInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String(env), JobId: aws.String(jobID)})
}

// TestJobLifecycle follows a job as jobwatch does: RUNNING until its
// duration has passed, then COMPLETED, with the times a user reads.
func TestJobLifecycle(t *testing.T) {
	f := start(t, emulator.Config{})
	started, err := clone(f, "dev", "pr-7")
	if err != nil {
		t.Fatal(err)
	}
	if *started.Status != "RUNNING" || *started.Operation != "CloneBackend" {
		t.Fatalf("CloneBackend = %v, want a RUNNING CloneBackend job", started)
	}
	steps := []struct {
		after      time.Duration
		wantStatus string
		wantUpdate string
	}{
		{0, "RUNNING", "2026-03-04T05:06:07.000Z"},
		{2999 * time.Millisecond, "RUNNING", "2026-03-04T05:06:07.000Z"},
		{time.Millisecond, "COMPLETED", "2026-03-04T05:06:10.000Z"},
		{time.Hour, "COMPLETED", "2026-03-04T05:06:10.000Z"},
	}
	for _, s := range steps {
		f.clock.Advance(s.after)
		job, err := getJob(f, "dev", *started.JobId)
		if err != nil {
			t.Fatal(err)
		}
		if *job.Status != s.wantStatus || *job.UpdateTime != s.wantUpdate || *job.CreateTime != "2026-03-04T05:06:07.000Z" {
			t.Errorf("at %v: status %s, updated %s, created %s; want %s, updated %s", f.clock.Now().Sub(epoch),
				*job.Status, *job.UpdateTime, *job.CreateTime, s.wantStatus, s.wantUpdate)
		}
	}
}

// TestPendingJobRefused checks the one-job-per-environment rule as
// clients see it, with either error code the service answers.
func TestPendingJobRefused(t *testing.T) {
	const message = "There is already a pending job for the requested appId d1abc23 and backendEnvironmentName dev. Please wait for it to complete"
	tests := map[string]struct {
		code     string
		wantCode string
	}{
		"BadRequestException by default": {wantCode: "BadRequestException"},
		"ValidationException on demand":  {code: emulator.PendingValidation, wantCode: "ValidationException"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := start(t, emulator.Config{Faults: emulator.Faults{PendingErrorCode: tc.code}})
			if _, err := clone(f, "dev", "pr-1"); err != nil {
				t.Fatal(err)
			}
			_, err := f.client.CreateBackendStorage(context.Background(), &amplify.CreateBackendStorageInput{AppId: aws.String(demoApp),
				BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("s"), ResourceConfig: storageConfig})
			apiErr := asError[smithy.APIError](t, err)
			if apiErr.ErrorCode() != tc.wantCode || apiErr.ErrorMessage() != message {
				t.Fatalf("second job: %s %q, want %s %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tc.wantCode, message)
			}
			if re := asError[*awshttp.ResponseError](t, err); re.HTTPStatusCode() != 400 || re.ServiceRequestID() == "" {
				t.Errorf("HTTP %d, request id %q; want 400 with a request id", re.HTTPStatusCode(), re.ServiceRequestID())
			}
			if tc.code == "" {
				asError[*types.BadRequestException](t, err)
			}
			// Another environment is free; the same one frees up when the job ends.
			if _, err := clone(f, "staging", "pr-2"); err != nil {
				t.Errorf("a job on staging was refused: %v", err)
			}
			f.clock.Advance(emulator.DefaultJobDuration)
			if _, err := clone(f, "dev", "pr-3"); err != nil {
				t.Errorf("a job on dev after the first ended was refused: %v", err)
			}
		})
	}
}

// TestAppWideJobs checks RemoveAllBackends' app-wide job: it waits for
// busy environments and blocks them all while it runs.
func TestAppWideJobs(t *testing.T) {
	ctx := context.Background()
	f := start(t, emulator.Config{})
	removeAll := func() (*amplify.RemoveAllBackendsOutput, error) {
		return f.client.RemoveAllBackends(ctx, &amplify.RemoveAllBackendsInput{AppId: aws.String(demoApp)})
	}
	if _, err := clone(f, "staging", "pr-1"); err != nil {
		t.Fatal(err)
	}
	_, err := removeAll()
	if bre := asError[*types.BadRequestException](t, err); !strings.Contains(bre.ErrorMessage(), "backendEnvironmentName staging") {
		t.Errorf("RemoveAllBackends while staging is busy: %q, want it refused naming staging", bre.ErrorMessage())
	}
	f.clock.Advance(longAfter)
	out, err := removeAll()
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.client.CreateBackend(ctx, &amplify.CreateBackendInput{AppId: aws.String(demoApp), AppName: aws.String("demo"), BackendEnvironmentName: aws.String("fresh")})
	if bre := asError[*types.BadRequestException](t, err); !strings.Contains(bre.ErrorMessage(), "backendEnvironmentName fresh") {
		t.Errorf("CreateBackend while RemoveAllBackends runs: %q, want it refused", bre.ErrorMessage())
	}
	// Read under any environment name, reported under that name.
	job, err := getJob(f, "whatever", *out.JobId)
	if err != nil || *job.BackendEnvironmentName != "whatever" || *job.Operation != "RemoveAllBackends" {
		t.Errorf("GetBackendJob of the app-wide job: %v, %v", job, err)
	}
}

// TestListBackendJobsPaging pages with the client's paginator and checks
// order, filters and the service's limits.
func TestListBackendJobsPaging(t *testing.T) {
	ctx := context.Background()
	f := start(t, emulator.Config{})
	var ids []string // newest first
	for i := range 7 {
		out, err := clone(f, "dev", "pr-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = slices.Insert(ids, 0, *out.JobId)
		if i < 6 {
			f.clock.Advance(time.Minute) // the last one stays RUNNING
		}
	}
	list := func(in amplify.ListBackendJobsInput, limit int32) (pages [][]string, err error) {
		in.AppId, in.BackendEnvironmentName = aws.String(demoApp), aws.String("dev")
		p := amplify.NewListBackendJobsPaginator(f.client, &in, func(o *amplify.ListBackendJobsPaginatorOptions) { o.Limit = limit })
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return pages, err
			}
			var got []string
			for _, j := range page.Jobs {
				got = append(got, *j.JobId)
			}
			pages = append(pages, got)
		}
		return pages, nil
	}
	tests := map[string]struct {
		in    amplify.ListBackendJobsInput
		limit int32
		want  [][]string
	}{
		"pages of 2, newest first": {limit: 2, want: [][]string{ids[0:2], ids[2:4], ids[4:6], ids[6:7]}},
		"one page by default":      {want: [][]string{ids}},
		"by status":                {in: amplify.ListBackendJobsInput{Status: aws.String("RUNNING")}, want: [][]string{ids[:1]}},
		"by operation":             {in: amplify.ListBackendJobsInput{Operation: aws.String("DeleteBackend")}, want: [][]string{nil}},
		"by job id":                {in: amplify.ListBackendJobsInput{JobId: aws.String(ids[3])}, limit: 1, want: [][]string{ids[3:4]}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := list(tc.in, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if jsonText(t, got) != jsonText(t, tc.want) {
				t.Errorf("pages %v, want %v", got, tc.want)
			}
		})
	}

	first, err := f.client.ListBackendJobs(ctx, &amplify.ListBackendJobsInput{AppId: aws.String(demoApp), BackendEnvironmentName: aws.String("dev"), MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]struct {
		in   amplify.ListBackendJobsInput
		want string
	}{
		"maxResults 0":             {in: amplify.ListBackendJobsInput{MaxResults: aws.Int32(0)}, want: "MaxResults"},
		"maxResults 26":            {in: amplify.ListBackendJobsInput{MaxResults: aws.Int32(26)}, want: "MaxResults"},
		"a token that is no token": {in: amplify.ListBackendJobsInput{NextToken: aws.String("2")}, want: "nextToken"},
		"another listing's token":  {in: amplify.ListBackendJobsInput{NextToken: first.NextToken, BackendEnvironmentName: aws.String("staging")}, want: "nextToken"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			in := tc.in
			in.AppId = aws.String(demoApp)
			if in.BackendEnvironmentName == nil {
				in.BackendEnvironmentName = aws.String("dev")
			}
			_, err := f.client.ListBackendJobs(ctx, &in)
			if bre := asError[*types.BadRequestException](t, err); !strings.Contains(bre.ErrorMessage(), tc.want) {
				t.Errorf("message %q does not name %s", bre.ErrorMessage(), tc.want)
			}
		})
	}
}

// TestErrorsMapToTypes checks that the client turns the emulator's errors
// into the model's typed errors, with their members.
func TestErrorsMapToTypes(t *testing.T) {
	ctx := context.Background()
	f := start(t, emulator.Config{})
	app, dev := aws.String(demoApp), aws.String("dev")
	badAuth := *authConfig
	pool := *badAuth.UserPoolConfigs
	pool.SignInMethod = "FINGERPRINT"
	badAuth.UserPoolConfigs = &pool
	tests := map[string]struct {
		call             func() (any, error)
		wantResourceType string // for NotFoundException
		wantMember       string // for BadRequestException
	}{
		"unknown app": {call: func() (any, error) {
			return f.client.GetBackend(ctx, &amplify.GetBackendInput{AppId: aws.String("nope")})
		}, wantResourceType: "App"},
		"unknown environment": {call: func() (any, error) { return clone(f, "prod", "x") }, wantResourceType: "BackendEnvironment"},
		"unknown job":         {call: func() (any, error) { return getJob(f, "dev", "no-such-job") }, wantResourceType: "BackendJob"},
		"unknown resource": {call: func() (any, error) {
			return f.client.GetBackendAuth(ctx, &amplify.GetBackendAuthInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("x")})
		}, wantResourceType: "BackendAuth"},
		"enum value outside the model": {call: func() (any, error) {
			return f.client.ImportBackendStorage(ctx, &amplify.ImportBackendStorageInput{AppId: app, BackendEnvironmentName: dev, ServiceName: "GCS"})
		}, wantMember: "serviceName"},
		"nested enum value outside the model": {call: func() (any, error) {
			return f.client.CreateBackendAuth(ctx, &amplify.CreateBackendAuthInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("a"), ResourceConfig: &badAuth})
		}, wantMember: "resourceConfig.userPoolConfigs.signInMethod"},
		"existing environment": {call: func() (any, error) { return clone(f, "dev", "staging") }, wantMember: "staging already exists"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.call()
			if tc.wantResourceType != "" {
				nf := asError[*types.NotFoundException](t, err)
				if aws.ToString(nf.ResourceType) != tc.wantResourceType || nf.ErrorMessage() == "" {
					t.Errorf("NotFoundException %q with resourceType %q, want resourceType %s", nf.ErrorMessage(), aws.ToString(nf.ResourceType), tc.wantResourceType)
				}
				return
			}
			if bre := asError[*types.BadRequestException](t, err); !strings.Contains(bre.ErrorMessage(), tc.wantMember) {
				t.Errorf("BadRequestException %q does not name %s", bre.ErrorMessage(), tc.wantMember)
			}
		})
	}
}

// TestLabelsAreUnescaped sends an environment name holding characters the
// client escapes ("+", ":", "@", non-ASCII), each label one path segment.
// The client refuses "/" and "%" in labels; an escaped "/" reaching the
// emulator is TestStrictRequests' "label with an escaped slash".
func TestLabelsAreUnescaped(t *testing.T) {
	ctx := context.Background()
	f := start(t, emulator.Config{})
	appID, env := "d9odd", "feature+login:v2@é"
	_, err := f.client.CreateBackend(ctx, &amplify.CreateBackendInput{AppId: aws.String(appID), AppName: aws.String("odd"), BackendEnvironmentName: aws.String(env)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.client.ListBackendJobs(ctx, &amplify.ListBackendJobsInput{AppId: aws.String(appID), BackendEnvironmentName: aws.String(env)})
	if err != nil || len(out.Jobs) != 1 || *out.Jobs[0].AppId != appID || *out.Jobs[0].BackendEnvironmentName != env {
		t.Fatalf("ListBackendJobs of %s/%s: %v, %v; want the CreateBackend job", appID, env, out, err)
	}
}

// TestConcurrentClients runs clients in parallel, for the race detector
// and to check that every job is accounted for.
func TestConcurrentClients(t *testing.T) {
	f := start(t, emulator.Config{Clock: realClockForTest{}, JobDurations: emulator.FixedDurations(time.Millisecond, nil)})
	const workers, jobsEach = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*jobsEach)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := fmt.Sprintf("env-%d", w)
			ctx := context.Background()
			_, err := f.client.CreateBackend(ctx, &amplify.CreateBackendInput{AppId: aws.String("busy"), AppName: aws.String("busy"), BackendEnvironmentName: aws.String(env)})
			if err != nil {
				errs <- err
				return
			}
			for i := range jobsEach {
				time.Sleep(2 * time.Millisecond) // past the previous job's 1ms
				out, err := f.client.ImportBackendStorage(ctx, &amplify.ImportBackendStorageInput{AppId: aws.String("busy"),
					BackendEnvironmentName: aws.String(env), BucketName: aws.String(fmt.Sprintf("b%d", i)), ServiceName: types.ServiceNameS3})
				if err != nil {
					errs <- err
					continue
				}
				if _, err := f.client.GetBackendJob(ctx, &amplify.GetBackendJobInput{AppId: aws.String("busy"), BackendEnvironmentName: aws.String(env), JobId: out.JobId}); err != nil {
					errs <- err
				}
				_ = f.srv.Stats()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := f.srv.Stats(); s.Jobs.Created != workers*(jobsEach+1) || s.Operations["GetBackendJob"].Outcomes["200"] != workers*jobsEach {
		t.Errorf("stats %+v, want %d jobs and %d GetBackendJob answers", s, workers*(jobsEach+1), workers*jobsEach)
	}
}
