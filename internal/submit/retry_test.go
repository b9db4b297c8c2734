package submit

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

// A job-starting call through ClientCall is retried by the SDK on
// throttling only (a 429 started nothing); a 504 after the job started, a
// 504 before it, a 503 or a dropped connection is sent once — sent again,
// it would start a second job or be refused as pending by its own. The
// client's other operations keep the standard retryer.
func TestClientCallRetriesThrottlingOnly(t *testing.T) {
	tests := map[string]struct {
		faults    emulator.Faults
		wantCalls int
	}{
		"throttled":                 {emulator.Faults{ThrottleRate: 1}, 3},
		"answer lost after the job": {emulator.Faults{LostAnswerRate: 1, LostAnswerDelay: 10 * time.Millisecond}, 1},
		"504 before the job":        {emulator.Faults{ErrorRate: 1}, 1},
		"outage: 503":               {emulator.Faults{OutageFor: time.Hour}, 1},
		"outage: dropped":           {emulator.Faults{OutageFor: time.Hour, OutageDropRate: 1}, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			emu, err := emulator.Start(emulator.Config{Seed: 1, Faults: tc.faults,
				State: &emulator.State{Apps: []emulator.StateApp{{AppId: testApp, AppName: "demo", Environments: []string{"dev"}}}}})
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Close()
			api := amplify.NewFromConfig(testenv.AWSConfig("http://127.0.0.1:1"), func(o *amplify.Options) {
				o.BaseEndpoint = aws.String(emu.URL)
				o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { // 3 attempts, no waiting
					so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				})
			})
			op, _ := amplify.LookupOperation("CloneBackend")
			in := &amplify.CloneBackendInput{AppId: aws.String(testApp), BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("prtest")}
			if _, err := ClientCall(api)(testenv.Context(t), op, in); err == nil {
				t.Fatal("the call succeeded under the fault")
			}
			if got := emu.Stats().Operations["CloneBackend"].Calls; got != tc.wantCalls {
				t.Errorf("CloneBackend sent %d times, want %d", got, tc.wantCalls)
			}
			if _, err := api.ListBackendJobs(testenv.Context(t), &amplify.ListBackendJobsInput{AppId: aws.String(testApp),
				BackendEnvironmentName: aws.String("dev")}); err == nil && tc.faults.OutageFor > 0 {
				t.Error("ListBackendJobs succeeded during the outage")
			}
			if got := emu.Stats().Operations["ListBackendJobs"].Calls; tc.faults.OutageFor > 0 && got != 3 {
				t.Errorf("ListBackendJobs sent %d times during the outage, want 3 (the standard retryer)", got)
			}
		})
	}
}
