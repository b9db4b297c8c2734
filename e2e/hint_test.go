package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

// TestPushHint checks the push-hint path end to end: a CloudFormation
// "Stack Status Change" of the root stack of the environment a clone
// creates (not its source's), put on the default bus, goes through the template's rule to poll, which
// announces the ended job at once — long before its first scheduled
// lookup (60 s after submission here) — and exactly once.
func TestPushHint(t *testing.T) {
	p := startPipeline(t, emulator.Faults{}, emulator.FixedDurations(2*time.Second, nil),
		map[string]string{"INITIAL_POLL_DELAY": "60s"})
	p.request("r-hint", "CloneBackend", `{"AppId":"d1abc23","BackendEnvironmentName":"staging","TargetEnvironmentName":"prseven"}`)
	job := p.waitJob("staging", "CloneBackend")
	// Wait for submit to record the job as tracked (it logs "job
	// submitted" after) and for the job to end.
	p.waitLog("r-hint", `"msg":"job submitted"`)
	p.waitJobStatus("staging", job, "COMPLETED")

	// A clone builds the environment it creates: the hint is that stack's
	// creation, not a change of the source environment's stack.
	stack := fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/amplify-demo-prseven-123456/0f1e2d3c", testenv.Region, testenv.Account)
	detail := fmt.Sprintf(`{"stack-id":%q,"status-details":{"status":"CREATE_COMPLETE","status-reason":""}}`, stack)
	sent := time.Now()
	out, err := p.eb.PutEvents(p.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.cloudformation"), DetailType: aws.String("CloudFormation Stack Status Change"),
		Detail: aws.String(detail), Resources: []string{stack},
	}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("put the stack event: %v %+v", err, out)
	}
	key := contract.EventKey(appID, "staging", job, "", "COMPLETED")
	got := p.collect([]string{key}, 30*time.Second)
	evs := got[key]
	if len(evs) != 1 {
		t.Fatalf("events for %s: %d, want exactly 1 (all: %v)", key, len(evs), got)
	}
	if took := time.Since(sent); took > 20*time.Second {
		t.Errorf("announced %v after the hint; the scheduled lookup would have taken 60 s", took)
	}
	if evs[0].Detail.Polls != 1 {
		t.Errorf("polls = %d, want 1 (the hint's lookup)", evs[0].Detail.Polls)
	}
	if !strings.Contains(p.logs.String(), `"msg":"push hint"`) {
		t.Error("poll did not log the push hint")
	}
}
