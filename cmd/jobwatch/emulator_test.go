package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

const emuStateFile = "../../internal/dev/emulator/testdata/state.json"

// TestEmulatorCommand runs `jobwatch emulator` as a user would: it
// announces its address, answers jobwatch call, logs one line per request
// without bodies, and stops cleanly when cancelled.
func TestEmulatorCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRETEXAMPLE")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testenv.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"emulator", "--addr", "127.0.0.1:0", "--state", emuStateFile, "--seed", "3"}, &stdout, &stderr)
	}()
	url := waitListening(t, &stdout, &stderr, exited)

	// jobwatch call against it.
	var callOut, callErr bytes.Buffer
	if code := run(context.Background(), []string{"call", "GetBackend", "--input", `{"AppId":"d1abc23"}`, "--endpoint-url", url}, &callOut, &callErr); code != 0 {
		t.Fatalf("jobwatch call GetBackend: exit %d: %s", code, callErr.String())
	}
	var backend struct{ AppName string }
	if err := json.Unmarshal(callOut.Bytes(), &backend); err != nil || backend.AppName != "demo" {
		t.Errorf("jobwatch call GetBackend printed %s (%v), want app demo", callOut.String(), err)
	}
	// A secret in a request body must not reach the log.
	const secret = "do-not-log-this-secret"
	authInput := `{"AppId":"d1abc23","BackendEnvironmentName":"dev","ResourceName":"auth1","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO",
		"UserPoolConfigs":{"RequiredSignUpAttributes":["EMAIL"],"SignInMethod":"EMAIL","UserPoolName":"bodyonlypoolname",
		"OAuth":{"OAuthGrantType":"CODE","OAuthScopes":["EMAIL"],"RedirectSignInURIs":["https://x"],"RedirectSignOutURIs":["https://x"],
		"SocialProviderSettings":{"Google":{"ClientId":"id","ClientSecret":"` + secret + `"}}}}}}`
	callOut.Reset()
	if code := run(context.Background(), []string{"call", "CreateBackendAuth", "--input", authInput, "--endpoint-url", url}, &callOut, &callErr); code != 0 {
		t.Fatalf("jobwatch call CreateBackendAuth: exit %d: %s", code, callErr.String())
	}
	if !strings.Contains(callOut.String(), `"Status": "RUNNING"`) {
		t.Errorf("CreateBackendAuth printed %s, want a RUNNING job", callOut.String())
	}
	// An unsigned request and a control request.
	resp, err := http.Post(url+"/backend/d1abc23/details", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request: %s, want 403", resp.Status)
	}
	resp, err = http.Get(url + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d after cancel, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop after cancel")
	}

	log := stderr.String()
	checkRequestLog(t, log,
		`method=POST path=/backend/d1abc23/details operation=GetBackend status=200`,
		`method=POST path=/backend/d1abc23/auth operation=CreateBackendAuth status=200`,
		`method=POST path=/backend/d1abc23/details operation=GetBackend status=403`,
		`method=GET path=/_emulator/stats operation=- status=200`)
	if strings.Contains(log, secret) || strings.Contains(log, "bodyonlypoolname") {
		t.Errorf("the log holds request body content:\n%s", log)
	}
	if stdout.String() != "listening on "+url+"\n" {
		t.Errorf("stdout = %q, want only the listening line", stdout.String())
	}
}

// checkRequestLog checks the request lines of an emulator's log, one per
// request in order: each must start with its want and end with the
// duration.
func checkRequestLog(t *testing.T, log string, want ...string) {
	t.Helper()
	var requests []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "msg=request") {
			requests = append(requests, line)
		}
	}
	if len(requests) != len(want) {
		t.Fatalf("%d request lines, want %d:\n%s", len(requests), len(want), log)
	}
	for i, w := range want {
		re := regexp.MustCompile(regexp.QuoteMeta(w) + ` duration=\S+$`)
		if !re.MatchString(requests[i]) {
			t.Errorf("request line %d = %q, want it to match %s", i, requests[i], re)
		}
	}
}

// waitListening waits for the "listening on" line and returns the URL.
func waitListening(t *testing.T, stdout, stderr *testenv.Buffer, exited <-chan int) string {
	t.Helper()
	line := regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+)\n$`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := line.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-exited:
			t.Fatalf("emulator exited %d before listening:\n%s", code, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line; stdout %q, stderr:\n%s", stdout.String(), stderr.String())
	return ""
}

// startEmulatorCommand runs `jobwatch emulator` with args until the test
// ends and returns its URL and its log.
func startEmulatorCommand(t *testing.T, args ...string) (string, *testenv.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testenv.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, append([]string{"emulator", "--addr", "127.0.0.1:0", "--state", emuStateFile}, args...), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return waitListening(t, &stdout, &stderr, exited), &stderr
}

// emulatorClient is jobwatch's Admin API client for the emulator at url,
// without retries, so that every fault reaches the test.
func emulatorClient(url string) *amplify.Client {
	return amplify.New(amplify.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}

// getJSON decodes the JSON answer of GET url into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestEmulatorFlagsTakeEffect checks that each flag reaches the emulator:
// faults as GET /_emulator/faults reports them, job durations per
// operation and the seed as jobs show them.
func TestEmulatorFlagsTakeEffect(t *testing.T) {
	url, _ := startEmulatorCommand(t, "--throttle-rate", "0.25", "--error-rate", "0.5", "--fail-rate", "0.1", "--stuck-rate", "0.2",
		"--latency", "1ms", "--not-found-window", "2s", "--pending-error-code", "ValidationException",
		"--job-duration", "1h", "--job-duration", "clone_backend=50ms", "--seed", "5")
	var faults map[string]any
	getJSON(t, url+"/_emulator/faults", &faults)
	want := map[string]any{"throttleRate": 0.25, "errorRate": 0.5, "failRate": 0.1, "stuckRate": 0.2,
		"latency": "1ms", "notFoundWindow": "2s", "pendingErrorCode": "ValidationException"}
	for k, v := range want {
		if faults[k] != v {
			t.Errorf("%s = %v, want %v", k, faults[k], v)
		}
	}

	// Job durations and the seed, with faults off so nothing gets in the way.
	quiet := func(url string) {
		resp, err := http.Post(url+"/_emulator/faults", "application/json", strings.NewReader(`{"throttleRate":0,"errorRate":0,"failRate":0,"stuckRate":0,"notFoundWindow":"0s"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	quiet(url)
	client := emulatorClient(url)
	ctx := context.Background()
	cloned, err := client.CloneBackend(ctx, &amplify.CloneBackendInput{AppId: aws.String("d1abc23"), BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("prone")})
	if err != nil {
		t.Fatal(err)
	}
	imported, err := client.ImportBackendStorage(ctx, &amplify.ImportBackendStorageInput{AppId: aws.String("d1abc23"), BackendEnvironmentName: aws.String("staging"), ServiceName: types.ServiceNameS3})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past CloneBackend's 50ms
	for env, job := range map[string]struct{ id, want string }{"dev": {*cloned.JobId, "COMPLETED"}, "staging": {*imported.JobId, "RUNNING"}} {
		out, err := client.GetBackendJob(ctx, &amplify.GetBackendJobInput{AppId: aws.String("d1abc23"), BackendEnvironmentName: aws.String(env), JobId: aws.String(job.id)})
		if err != nil || *out.Status != job.want {
			t.Errorf("the job on %s after 100ms: %v, %v; want %s", env, out, err, job.want)
		}
	}

	again, _ := startEmulatorCommand(t, "--seed", "5")
	client = emulatorClient(again)
	replayed, err := client.CloneBackend(ctx, &amplify.CloneBackendInput{AppId: aws.String("d1abc23"), BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("prone")})
	if err != nil {
		t.Fatal(err)
	}
	if *replayed.JobId != *cloned.JobId {
		t.Errorf("--seed 5 gave job %s, then %s: want the same", *cloned.JobId, *replayed.JobId)
	}
}

// TestEmulatorFaultFlags checks the flags of lost answers and outages as
// GET /_emulator/faults reports them: the outage placed from the start.
func TestEmulatorFaultFlags(t *testing.T) {
	url, _ := startEmulatorCommand(t, "--lost-answer-rate", "0.3", "--lost-answer-delay", "20ms",
		"--outage-after", "1h", "--outage-for", "2m", "--outage-drop-rate", "0.4")
	var faults map[string]any
	getJSON(t, url+"/_emulator/faults", &faults)
	want := map[string]any{"lostAnswerRate": 0.3, "lostAnswerDelay": "20ms", "outageFor": "2m0s", "outageDropRate": 0.4}
	for k, v := range want {
		if faults[k] != v {
			t.Errorf("%s = %v, want %v", k, faults[k], v)
		}
	}
	if after, err := time.ParseDuration(fmt.Sprint(faults["outageAfter"])); err != nil || after <= 59*time.Minute || after > time.Hour {
		t.Errorf("outageAfter = %v, want a little under 1h", faults["outageAfter"])
	}
}

// TestEmulatorFaultsHappen runs the command with each fault that breaks
// what a client assumes and meets it with jobwatch's client: the answer,
// the counters and the log line.
func TestEmulatorFaultsHappen(t *testing.T) {
	clone := func(c *amplify.Client) error {
		_, err := c.CloneBackend(context.Background(), &amplify.CloneBackendInput{AppId: aws.String("d1abc23"),
			BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("prone")})
		return err
	}
	var gatewayTimeout *types.GatewayTimeoutException
	var apiErr smithy.APIError
	var sendErr *smithyhttp.RequestSendError
	tests := map[string]struct {
		args    []string
		wantErr any // a pointer errors.As fills
		outcome string
		log     string
	}{
		"lost answer": {args: []string{"--lost-answer-rate", "1", "--lost-answer-delay", "1ms"}, wantErr: &gatewayTimeout,
			outcome: emulator.OutcomeLostAnswer, log: "operation=CloneBackend status=504"},
		"outage": {args: []string{"--outage-for", "1h"}, wantErr: &apiErr,
			outcome: emulator.OutcomeOutage, log: "operation=CloneBackend status=503"},
		"dropped connections": {args: []string{"--outage-for", "1h", "--outage-drop-rate", "1"}, wantErr: &sendErr,
			outcome: emulator.OutcomeDropped, log: "operation=CloneBackend status=dropped"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			url, log := startEmulatorCommand(t, tc.args...)
			if err := clone(emulatorClient(url)); !errors.As(err, tc.wantErr) {
				t.Errorf("CloneBackend: %v, want a %T", err, tc.wantErr)
			}
			var stats emulator.Stats
			getJSON(t, url+"/_emulator/stats", &stats)
			if stats.Count(tc.outcome) != 1 {
				t.Errorf("stats %+v, want one %q", stats.Operations, tc.outcome)
			}
			checkRequestLog(t, log.String(), "method=POST path=/backend/d1abc23/environments/dev/clone "+tc.log,
				"method=GET path=/_emulator/stats operation=- status=200")
		})
	}
}

func TestEmulatorBadFlags(t *testing.T) {
	tests := map[string]struct {
		args     []string
		wantExit int
		want     string
	}{
		"rate above 1":                {[]string{"--fail-rate", "2"}, 2, `invalid value "2" for flag -fail-rate`},
		"rate not a number":           {[]string{"--throttle-rate", "often"}, 2, "-throttle-rate: want a number from 0 to 1"},
		"rates adding above 1":        {[]string{"--fail-rate", "0.6", "--stuck-rate", "0.6"}, 2, "--fail-rate plus --stuck-rate"},
		"negative latency":            {[]string{"--latency", "-1s"}, 2, "-latency: want a duration"},
		"lost answer rate above 1":    {[]string{"--lost-answer-rate", "1.5"}, 2, "-lost-answer-rate: want a number from 0 to 1"},
		"bad lost answer delay":       {[]string{"--lost-answer-delay", "later"}, 2, "-lost-answer-delay: want a duration"},
		"negative outage":             {[]string{"--outage-for", "-1m"}, 2, "-outage-for: want a duration"},
		"bad outage start":            {[]string{"--outage-after", "soon"}, 2, "-outage-after: want a duration"},
		"drop rate not a number":      {[]string{"--outage-drop-rate", "some"}, 2, "-outage-drop-rate: want a number from 0 to 1"},
		"outage without a length":     {[]string{"--outage-after", "1m"}, 2, "--outage-after needs --outage-for"},
		"bad window":                  {[]string{"--not-found-window", "forever"}, 2, "-not-found-window"},
		"bad job duration":            {[]string{"--job-duration", "soon"}, 2, "-job-duration: want DURATION or OPERATION=DURATION"},
		"unknown operation":           {[]string{"--job-duration", "CloneEverything=1s"}, 2, `-job-duration: unknown operation "CloneEverything"`},
		"operation without jobs":      {[]string{"--job-duration", "get-backend=1s"}, 2, "-job-duration: GetBackend starts no job"},
		"unknown pending code":        {[]string{"--pending-error-code", "Nope"}, 2, "-pending-error-code: want BadRequestException or ValidationException"},
		"fail operation without jobs": {[]string{"--fail-operation", "GetBackend"}, 2, `-fail-operation: "GetBackend" is not an operation that starts a job`},
		"missing state file":          {[]string{"--state", "testdata/none.json"}, 2, "--state: read state file"},
		"positional argument":         {[]string{"now"}, 2, `unexpected argument "now"`},
		"unknown flag":                {[]string{"--turbo"}, 2, "-turbo"},
		"address it cannot take":      {[]string{"--addr", "256.0.0.1:0"}, 1, "listen on --addr 256.0.0.1:0"},
		"help is no error at all":     {[]string{"-h"}, 0, "usage: jobwatch emulator"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"emulator"}, tc.args...), &stdout, &stderr)
			if code != tc.wantExit || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.wantExit, tc.want)
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Errorf("it listened: %q", stdout.String())
			}
		})
	}
}
