package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

const eventsDir = "../../events/submit"

// Every file in events/submit goes through the Lambda handler against
// moto and the emulator: the good ones start a job (or move a line), the
// bad-* ones are refused with an error naming the problem. Files run in
// name order on one emulator, so later ones see earlier ones' jobs.
func TestEventFixtures(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AllowedAppIDs = []string{testApp} })
	// UpdateBackendAPI and GenerateBackendAPIModels need an API to work on.
	for _, env := range []string{"api", "models"} {
		out, err := h.api.CreateBackendAPI(h.ctx, &amplify.CreateBackendAPIInput{AppId: aws.String(testApp),
			BackendEnvironmentName: aws.String(env), ResourceName: aws.String("main"),
			ResourceConfig: &types.BackendAPIResourceConfig{TransformSchema: aws.String("type Todo @model { id: ID! }")}})
		if err != nil {
			t.Fatal(err)
		}
		h.finish(env, aws.ToString(out.JobId))
	}

	tests := fixtureCases(h)

	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", eventsDir, err)
	}
	sort.Strings(files)
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		tc, ok := tests[name]
		if !ok {
			t.Errorf("%s: no expectation in this test; every fixture must be checked", name)
			continue
		}
		t.Run(name, func(t *testing.T) { runFixture(t, h, f, tc) })
	}
	for name := range tests {
		if !seen[name] {
			t.Errorf("expectation for %s, which is not in %s", name, eventsDir)
		}
	}
	if n := h.count(h.cfg.CompletionsQueueURL); n != 0 {
		t.Errorf("%d status changes, want none", n)
	}
	checkNoSecrets(t, h.logs.String())
}

// fixtureCase is what one file of events/submit must do.
type fixtureCase struct {
	before  func(*testing.T)
	check   func(*testing.T, any) // for good files
	wantErr string                // for bad ones
}

// fixtureCases are the expectations of TestEventFixtures, by file name.
func fixtureCases(h *harness) map[string]fixtureCase {
	// started expects a job for requestID on env.
	started := func(env, requestID string) func(*testing.T, any) {
		return func(t *testing.T, out any) {
			res, ok := out.(Result)
			if !ok || res.Status != "RUNNING" || res.JobID == "" || res.BackendEnvironmentName != env || res.RequestID != requestID {
				t.Fatalf("response = %#v, want a RUNNING job on %s for request %s", out, env, requestID)
			}
			tr := h.tracking()
			if len(tr) != 1 || tr[0].JobID != res.JobID || tr[0].RequestID != requestID {
				t.Errorf("tracking messages = %+v, want one for job %s", tr, res.JobID)
			}
		}
	}
	return map[string]fixtureCase{
		"direct-clone-backend.json":                    {check: started("staging", "cli-pr-43-clone")},
		"bad-environment-name.json":                    {wantErr: "member TargetEnvironmentName must be an Amplify environment name: 2 to 10 lowercase letters"},
		"eventbridge-clone-backend.json":               {check: started("dev", "ci-pr-42-clone")},
		"eventbridge-create-backend-auth.json":         {check: started("auth", "3f1c2b7a-0d4e-4c55-9a8b-2e6f1d0c9b11")},
		"eventbridge-update-backend-api.json":          {check: started("api", "ci-schema-7f3a")},
		"eventbridge-generate-backend-api-models.json": {check: started("models", "0c9e4b7d-2a61-4f0e-b3c8-5d7f9e1a2b34")},
		"bad-app-not-allowed.json":                     {wantErr: `refused: app id "d9other" is not in ALLOWED_APP_IDS`},
		"bad-get-operation.json":                       {wantErr: "refused: GetBackendJob starts no backend job"},
		"bad-malformed-json.json":                      {wantErr: "not valid JSON"},
		"bad-missing-member.json":                      {wantErr: "CloneBackend input: missing required member TargetEnvironmentName"},
		"bad-remove-all-backends.json":                 {wantErr: "refused: RemoveAllBackends starts an app-wide job"},
		"bad-unknown-operation.json":                   {wantErr: `unknown operation "CloneBackends"`},
		"bad-wrong-detail-type.json":                   {wantErr: `detail-type "Amplify Deployment Status Change"; submit accepts only "Amplify Backend Job Requested"`},
		"bad-wakeup.json": {check: func(t *testing.T, out any) {
			resp, ok := out.(events.SQSEventResponse)
			want := []events.SQSBatchItemFailure{{ItemIdentifier: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}
			if !ok || !reflect.DeepEqual(resp.BatchItemFailures, want) {
				t.Fatalf("response = %#v, want the malformed wake-up reported as a batch item failure", out)
			}
			if !strings.Contains(h.logs.String(), `"messageId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"`) ||
				!strings.Contains(h.logs.String(), `field \"backendEnvironmentName\" is required`) {
				t.Errorf("logs do not name the message and the missing field")
			}
		}},
		"sqs-wakeup-batch.json": {
			// dev is busy with eventbridge-clone-backend's job: a request waits.
			before: func(t *testing.T) {
				if res := h.submit(cloneRequest("r-waits-for-dev", "dev", "pr-50")); res.Status != StatusWaiting {
					t.Fatalf("setup: %+v, want WAITING", res)
				}
				h.finish("dev", h.record("ci-pr-42-clone").JobID)
			},
			check: func(t *testing.T, out any) {
				resp, ok := out.(events.SQSEventResponse)
				if !ok || len(resp.BatchItemFailures) != 0 {
					t.Fatalf("response = %#v, want no failures", out)
				}
				if tr := h.tracking(); len(tr) != 1 || tr[0].RequestID != "r-waits-for-dev" {
					t.Errorf("tracking messages for %v, want r-waits-for-dev", requestIDs(tr))
				}
				if got := h.line("dev"); len(got) != 0 {
					t.Errorf("dev line = %v, want empty", got)
				}
			}},
	}
}

// runFixture hands one fixture file to the Lambda handler and checks the
// answer. A bad direct request is the function's error; a bad EventBridge
// event is sent to the submit-failures queue at once, in Lambda's
// on-failure record format, and the invocation succeeds (Lambda's two
// retries would fail the same way).
func runFixture(t *testing.T, h *harness, file string, tc fixtureCase) {
	payload, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if tc.before != nil {
		tc.before(t)
	}
	out, err := h.s.HandleLambda(h.ctx, payload)
	if strings.HasPrefix(filepath.Base(file), "bad-") && tc.wantErr != "" {
		if bytes.Contains(payload, []byte(`"detail-type"`)) {
			if r, ok := out.(Refusal); err != nil || !ok || !strings.Contains(r.Error, tc.wantErr) {
				t.Fatalf("HandleLambda = %#v, %v; want a Refusal naming the problem (the event goes to the submit-failures queue)", out, err)
			}
			checkFailureRecord(t, h, payload, tc.wantErr)
			return
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
		}
		if out != nil {
			t.Errorf("response %#v alongside the error, want nil", out)
		}
		t.Logf("error: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("HandleLambda: %v", err)
	}
	tc.check(t, out)
}

// checkFailureRecord expects one record in the submit-failures queue: the
// event refused, with the problem named, in Lambda's on-failure format.
func checkFailureRecord(t *testing.T, h *harness, payload []byte, wantErr string) failureRecordSeen {
	t.Helper()
	got := h.receive(h.cfg.SubmitFailuresQueueURL, true)
	if len(got) != 1 {
		t.Fatalf("submit-failures queue holds %d records, want 1", len(got))
	}
	var rec failureRecordSeen
	if err := json.Unmarshal([]byte(got[0].body), &rec); err != nil {
		t.Fatal(err)
	}
	var sent, want any
	_ = json.Unmarshal(rec.RequestPayload, &sent)
	_ = json.Unmarshal(payload, &want)
	if rec.Version != "1.0" || rec.RequestContext["condition"] != "RetriesExhausted" || !reflect.DeepEqual(sent, want) ||
		!strings.Contains(rec.ResponsePayload.ErrorMessage, wantErr) || rec.ResponsePayload.ErrorType == "" {
		t.Errorf("failure record = %s\nwant the event, and an error containing %q", got[0].body, wantErr)
	}
	return rec
}

// failureRecordSeen is Lambda's on-failure record as a test reads it.
type failureRecordSeen struct {
	Version         string          `json:"version"`
	RequestContext  map[string]any  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponsePayload struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	} `json:"responsePayload"`
}

// checkNoSecrets fails when text holds a ClientSecret of the fixtures.
func checkNoSecrets(t *testing.T, text string) {
	t.Helper()
	secrets := fixtureSecrets(t)
	if len(secrets) == 0 {
		t.Fatal("no ClientSecret in the fixtures: the check checks nothing")
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the logs contain the ClientSecret %q of a fixture", s)
		}
	}
}

// fixtureSecrets collects every ClientSecret value in events/submit.
func fixtureSecrets(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "ClientSecret" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if json.Unmarshal(b, &v) == nil {
			walk(v)
		}
	}
	return out
}

// The adapter tells the payloads apart and fills in the request id.
func TestHandleLambdaPayloads(t *testing.T) {
	h := newHarness(t)
	lambdaCtx := lambdacontext.NewContext(h.ctx, &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
	tests := map[string]struct {
		ctx     context.Context
		payload string
		wantID  string // the request id of the result
		wantErr string
	}{
		"direct, no requestId: the Lambda request id": {ctx: lambdaCtx,
			payload: `{"operation":"CloneBackend","input":{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"prsixty"}}`,
			wantID:  "lambda-req-1"},
		"EventBridge, no requestId: the event id": {ctx: h.ctx,
			payload: `{"id":"ev-1","detail-type":"Amplify Backend Job Requested","source":"x","detail":{"operation":"clone_backend","input":{"AppId":"d1abc23","BackendEnvironmentName":"staging","TargetEnvironmentName":"prsixtyone"}}}`,
			wantID:  "ev-1"},
		"misspelt field in a direct request": {ctx: h.ctx,
			payload: `{"opertion":"CloneBackend","input":{}}`, wantErr: `unknown field "opertion"`},
		"no input": {ctx: h.ctx, payload: `{"operation":"CloneBackend"}`, wantErr: `field "input" is required`},
		"records from another source": {ctx: h.ctx,
			payload: `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"hi"}}]}`,
			wantErr: `record 0 has eventSource "aws:sns"`},
		"not an object": {ctx: h.ctx, payload: `[1,2]`, wantErr: "must be a JSON object"},
		"empty":         {ctx: h.ctx, payload: ``, wantErr: "must be a JSON object"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := h.s.HandleLambda(tc.ctx, []byte(tc.payload))
			if tc.wantErr != "" {
				if _, ok := asError[*InvalidRequestError](err); !ok || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want an InvalidRequestError containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res := out.(Result); res.RequestID != tc.wantID || res.Status != "RUNNING" {
				t.Errorf("result = %+v, want RUNNING with requestId %s", res, tc.wantID)
			}
		})
	}
}

// A bad EventBridge event is not the function's error (Lambda would
// retry it twice in vain): it goes to the submit-failures queue at once,
// as Lambda's on-failure record naming the problem.
func TestEventBridgeRefusalGoesToFailuresQueue(t *testing.T) {
	h := newHarness(t)
	ctx := lambdacontext.NewContext(h.ctx, &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-2",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:jobwatch-submit"})
	payload := []byte(`{"id":"ev-2","detail-type":"Amplify Backend Job Requested","detail":{"operation":"CloneBackend","inputs":{}}}`)
	out, err := h.s.HandleLambda(ctx, payload)
	if _, ok := out.(Refusal); err != nil || !ok {
		t.Fatalf("HandleLambda = %#v, %v; want a Refusal", out, err)
	}
	rec := checkFailureRecord(t, h, payload, `detail of EventBridge event ev-2: job request: unknown field "inputs"`)
	if rec.RequestContext["requestId"] != "lambda-req-2" || !strings.HasSuffix(fmt.Sprint(rec.RequestContext["functionArn"]), ":function:jobwatch-submit") {
		t.Errorf("requestContext = %v, want the invocation's", rec.RequestContext)
	}
	if n := h.jobsCreated(); n != 0 {
		t.Errorf("%d jobs started", n)
	}
}

// The responses are the JSON shapes the README documents.
func TestResponseJSON(t *testing.T) {
	b, _ := json.Marshal(Result{JobID: "j1", AppID: "a", BackendEnvironmentName: "dev", Operation: "CloneBackend", Status: "RUNNING", RequestID: "r"})
	if want := `{"jobId":"j1","appId":"a","backendEnvironmentName":"dev","operation":"CloneBackend","status":"RUNNING","requestId":"r"}`; string(b) != want {
		t.Errorf("result JSON = %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}}})
	if want := `{"batchItemFailures":[{"itemIdentifier":"m1"}]}`; string(b) != want {
		t.Errorf("SQS response JSON = %s\nwant %s", b, want)
	}
}

// A request carrying an OAuth client secret goes through every path (the
// line, throttling, a bad variant, a repeat) without the secret reaching
// a log line or an error.
func TestSecretsStayOutOfLogs(t *testing.T) {
	h := newHarness(t)
	payload, err := os.ReadFile(filepath.Join(eventsDir, "eventbridge-create-backend-auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	handle := func(p []byte) { // refusals of EventBridge events are answered, not errors
		out, err := h.s.HandleLambda(h.ctx, p)
		if r, ok := out.(Refusal); ok {
			errs = append(errs, r.Error)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	blocker := h.occupy("auth")
	handle(payload) // waits
	handle(payload) // repeated while waiting
	// A bad variant: an unknown member next to the secret.
	handle([]byte(strings.Replace(string(payload), `"ClientSecret"`, `"Unknown": "x", "ClientSecret"`, 1)))
	// A wrong type where the secret is.
	secret := fixtureSecrets(t)[0]
	handle([]byte(strings.Replace(string(payload), `"`+secret+`"`, `42`, 1)))
	h.finish("auth", blocker)
	h.setCallHook(func(*amplify.Operation, any) error {
		return &types.TooManyRequestsException{Message: aws.String("Rate exceeded")}
	})
	h.pump()
	h.setCallHook(nil)
	h.pumpLater()
	if tr := h.tracking(); len(tr) != 1 || tr[0].Operation != "CreateBackendAuth" {
		t.Fatalf("tracking = %+v, want the CreateBackendAuth job", tr)
	}
	if len(errs) != 2 {
		t.Errorf("errors = %q, want the two bad variants refused", errs)
	}
	// The input reached the service whole after its wait in the table.
	got, err := h.api.GetBackendAuth(h.ctx, &amplify.GetBackendAuthInput{AppId: aws.String(testApp),
		BackendEnvironmentName: aws.String("auth"), ResourceName: aws.String("userpool1")})
	if err != nil {
		t.Fatal(err)
	}
	if g := got.ResourceConfig.UserPoolConfigs.OAuth.SocialProviderSettings.Google; g == nil || aws.ToString(g.ClientSecret) != secret {
		t.Errorf("the service did not get the client secret of the waiting request")
	}
	checkNoSecrets(t, h.logs.String()+strings.Join(errs, "\n"))
}
