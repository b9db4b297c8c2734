package emulator_test

import (
	"cmp"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// TestLostAnswer loses the answer of every job-starting operation (the
// calls of TestOperations) and checks what it leaves: the caller gets a
// 504 after the delay and no job id, yet exactly one job runs, holds its
// environment and is in the stats as the lost one.
func TestLostAnswer(t *testing.T) {
	const delay = 50 * time.Millisecond
	for name, tc := range operationCases(t) {
		if op, _ := amplify.LookupOperation(name); !op.StartsJob {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := tc.fixture(t)
			setFaults(t, f, emulator.Faults{LostAnswerRate: 1, LostAnswerDelay: delay})
			began := time.Now()
			_, err := tc.call(f)
			asError[*types.GatewayTimeoutException](t, err)
			wantHTTPStatus(t, err, 504)
			if took := time.Since(began); took < delay {
				t.Errorf("the lost answer came after %v, want at least %v", took, delay)
			}
			s := httpStats(t, f.srv.URL)
			if len(s.LostAnswers) != 1 || s.LostAnswers[0].Operation != name || s.Count(emulator.OutcomeLostAnswer) != 1 ||
				s.Operations[name].Outcomes[emulator.OutcomeLostAnswer] != 1 {
				t.Fatalf("stats: lost answers %v, %s outcomes %v; want one lost %s", s.LostAnswers, name, s.Operations[name].Outcomes, name)
			}
			lost := s.LostAnswers[0]
			// An app-wide job is listed under any environment of the app.
			jobs, err := f.client.ListBackendJobs(context.Background(), &amplify.ListBackendJobsInput{AppId: aws.String(lost.AppId),
				BackendEnvironmentName: aws.String(cmp.Or(lost.BackendEnvironmentName, "dev")), Operation: aws.String(name)})
			if err != nil || len(jobs.Jobs) != 1 || *jobs.Jobs[0].JobId != lost.JobId || *jobs.Jobs[0].Status != "RUNNING" {
				t.Fatalf("%s jobs where the lost one is: %v, %v; want exactly %s, RUNNING", name, jobs, err, lost.JobId)
			}
			var pending *emulator.PendingJobError
			if err := f.srv.Jobs().CanStart(lost.AppId, lost.BackendEnvironmentName); !errors.As(err, &pending) || pending.JobId != lost.JobId {
				t.Errorf("another job where the lost one runs: %v, want it refused for %s", err, lost.JobId)
			}
		})
	}
}

// TestLostAnswerOnlyForJobs checks that calls starting no job are
// answered, even one that returns a job id (UpdateBackendJob), and so are
// refused job-starting calls: they start no job.
func TestLostAnswerOnlyForJobs(t *testing.T) {
	f := start(t, emulator.Config{})
	f.startClone(t)
	setFaults(t, f, emulator.Faults{LostAnswerRate: 1})
	if err := getBackend(f); err != nil {
		t.Errorf("GetBackend: %v", err)
	}
	if _, err := clone(f, "dev", "pr-2"); !amplify.IsPendingJobError(err) {
		t.Errorf("CloneBackend on a busy environment: %v, want the pending-job refusal", err)
	}
	if _, err := f.client.UpdateBackendJob(context.Background(), &amplify.UpdateBackendJobInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), JobId: aws.String(f.values["job"]), Status: aws.String("COMPLETED")}); err != nil {
		t.Errorf("UpdateBackendJob: %v", err)
	}
	if s := f.srv.Stats(); len(s.LostAnswers) != 0 || s.Count(emulator.OutcomeLostAnswer) != 0 {
		t.Errorf("stats %+v, want no lost answer", s)
	}
}

// TestLostAnswerRetried is the fault as a retrying client meets it: the
// SDK retries the 504 and the retry is refused, because of the caller's
// own job, which it never got the id of.
func TestLostAnswerRetried(t *testing.T) {
	f := start(t, emulator.Config{Faults: emulator.Faults{LostAnswerRate: 1, LostAnswerDelay: time.Millisecond}})
	client := amplify.New(f.client.Options(), func(o *amplify.Options) {
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	_, err := client.CloneBackend(context.Background(), &amplify.CloneBackendInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("pr-1")})
	if !amplify.IsPendingJobError(err) {
		t.Fatalf("CloneBackend with retries: %v, want the pending-job refusal", err)
	}
	outcomes := f.srv.Stats().Operations["CloneBackend"].Outcomes
	if outcomes[emulator.OutcomeLostAnswer] != 1 || outcomes["400 BadRequestException"] != 1 || len(outcomes) != 2 {
		t.Errorf("CloneBackend outcomes %v, want one lost answer, then one refusal", outcomes)
	}
	out, err := f.client.ListBackendJobs(context.Background(), &amplify.ListBackendJobsInput{AppId: aws.String(demoApp), BackendEnvironmentName: aws.String("dev")})
	if err != nil || len(out.Jobs) != 1 {
		t.Errorf("jobs on dev: %v, %v; want exactly one", out, err)
	}
}
