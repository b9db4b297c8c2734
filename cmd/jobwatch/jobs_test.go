package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/state"
)

// TestDeployedStack runs `jobwatch jobs` and `submit --wait` against
// stacks deployed to moto's CloudFormation, with the SDK's credential
// chain and AWS_ENDPOINT_URL, as a user points them at an account: a
// jobwatch stack's outputs name its table; an unknown stack, a stack
// without jobwatch's outputs, missing credentials and bad arguments are
// each one line and exit status 2, and nothing is submitted.
func TestDeployedStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	moto := testenv.Moto(t)
	bin := testenv.BuildCLI(t, "../..")
	ctx := testenv.Context(t)
	_, table := testenv.Table(t, "jobs")
	cfn := cloudformation.NewFromConfig(testenv.AWSConfig(moto))
	stack := func(name, outputs string) {
		t.Helper()
		body := `{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}},"Outputs":{` + outputs + `}}`
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	jw := testenv.Name(t, "jw")
	stack(jw, `"EventBusName":{"Value":"`+jw+`-nobus"},"StateTableName":{"Value":"`+table+`"}`)
	other := testenv.Name(t, "other")
	stack(other, `"QueueUrl":{"Value":{"Ref":"Q"}}`)

	env := append(os.Environ(), "AWS_ENDPOINT_URL="+moto, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	run := func(env []string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		return runBinary(t, bin, env, args...)
	}

	out, errOut, code := run(env, "jobs", "--stack", jw, "--json")
	var entries []state.Entry
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 0 {
		t.Errorf("jobs --stack %s: exit %d, %q %q; want an empty JSON array", jw, code, out, errOut)
	}
	out, _, code = run(env, "jobs", "--stack", jw)
	if code != 0 || strings.TrimSpace(out) != "no requests or jobs" {
		t.Errorf("jobs --stack %s: exit %d, %q", jw, code, out)
	}

	noCreds := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=" + moto, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	clone := []string{"CloneBackend", "--input", `{"AppId":"d1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"prtest"}`}
	for name, tc := range map[string]struct {
		env  []string
		args []string
		want string
	}{
		"unknown stack":        {env, []string{"jobs", "--stack", "nosuchstack"}, "no stack nosuchstack in us-east-1"},
		"not a jobwatch stack": {env, []string{"jobs", "--stack", other}, "has no EventBusName and StateTableName outputs"},
		"no credentials":       {noCreds, []string{"jobs", "--stack", jw}, "no AWS credentials"},
		"unknown id":           {env, []string{"jobs", "show", "nosuch", "--stack", jw}, `no request or job "nosuch"`},
		"state file without --local": {env, []string{"jobs", "--stack", jw, "--state", "some/file.json"},
			"--state some/file.json: not a state"},
		"wait on an unknown stack": {env, append([]string{"submit", "--wait", "--stack", "nosuchstack"}, clone...), "no stack nosuchstack"},
		"wait with a bad timeout":  {env, append([]string{"submit", "--wait", "--timeout", "soon", "--stack", jw}, clone...), "invalid value \"soon\" for flag -timeout"},
		"timeout without wait":     {env, append([]string{"submit", "--timeout", "1m", "--stack", jw}, clone...), "--timeout and --json go with --wait"},
		"bus not there":            {env, append([]string{"submit", "--wait", "--stack", jw}, clone...), jw + "-nobus"},
	} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := run(tc.env, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", code, out, errOut, tc.want)
			}
		})
	}
	if out, _, _ := run(env, "jobs", "--stack", jw, "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after the refused commands the table holds %s; nothing may be submitted", out)
	}
}

// runBinary runs the jobwatch binary with env (nil: this process's) and
// returns what it printed and its exit status.
func runBinary(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}
