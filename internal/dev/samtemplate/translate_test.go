package samtemplate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The assertions below are on the CloudFormation the SAM translator makes
// of template.yaml: what AWS will create.

// The SAM translator's output for template.yaml, made once per test run.
var translation struct {
	once sync.Once
	out  []byte
	skip string
	err  error
}

// translateParams are the parameter values of the translation.
var translateParams = map[string]string{"AllowedAppIds": "d1abc23,d4def56"}

// translated returns template.yaml transformed into CloudFormation by
// aws-sam-translator (testdata/sam_translate.py, offline), as raw JSON and
// as a model.
func translated(t *testing.T) (map[string]any, *Application) {
	t.Helper()
	translation.once.Do(func() {
		python, err := exec.LookPath("python3")
		if err != nil {
			translation.skip = "python3 is not installed"
			return
		}
		if err := exec.Command(python, "-c", "import samtranslator").Run(); err != nil {
			translation.skip = "aws-sam-translator is not installed (CI's machine image has it)"
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args := []string{filepath.Join("testdata", "sam_translate.py"), templatePath}
		for _, name := range slices.Sorted(maps.Keys(translateParams)) {
			args = append(args, name+"="+translateParams[name])
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, python, args...)
		cmd.Stderr = &stderr
		translation.out, translation.err = cmd.Output()
		if translation.err != nil {
			translation.err = errors.Join(translation.err, errors.New(stderr.String()))
		}
	})
	if translation.skip != "" {
		t.Skip(translation.skip)
	}
	if translation.err != nil {
		t.Fatalf("sam_translate.py: %v", translation.err)
	}
	var raw map[string]any
	if err := json.Unmarshal(translation.out, &raw); err != nil {
		t.Fatalf("translation output: %v", err)
	}
	app, err := Parse(translation.out, filepath.Dir(templatePath))
	if err != nil {
		t.Fatalf("Parse translation output: %v", err)
	}
	return raw, app
}

// symbolic resolves the translation's expressions to names: Ref X is "X"
// and Fn::GetAtt X.Attr is "X.Attr", so that what refers to what can be
// read off the resolved values.
func symbolic(t *testing.T, app *Application) *Resolver {
	t.Helper()
	return symbolicWith(t, app, translateParams)
}

// symbolicWith is symbolic with other parameter values: the translation
// keeps the template's conditions, so one translation serves them all.
func symbolicWith(t *testing.T, app *Application, params map[string]string) *Resolver {
	t.Helper()
	f := Facts{Region: "us-east-1", AccountID: "123456789012", StackName: "jobwatch", Parameters: params,
		Refs: map[string]string{}, Attrs: map[string]string{}}
	for id := range app.Resources {
		f.Refs[id] = id
		for _, attr := range []string{"Arn", "QueueName", "QueueUrl", "Name", "TopicName", "TopicArn"} {
			f.Attrs[id+"."+attr] = id + "." + attr
		}
	}
	return mustResolver(t, app, f)
}

// resources returns the translation's resources of a type by logical id.
func resources(raw map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range raw["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func mustString(t *testing.T, r *Resolver, v any) string {
	t.Helper()
	s, err := r.String(Expr{v})
	if err != nil {
		t.Fatalf("resolve %s: %v", Expr{v}, err)
	}
	return s
}

func mustStrings(t *testing.T, r *Resolver, v any) []string {
	t.Helper()
	s, err := r.Strings(Expr{v})
	if err != nil {
		t.Fatalf("resolve %s: %v", Expr{v}, err)
	}
	return s
}

func TestTranslatedFunctions(t *testing.T) {
	raw, _ := translated(t)
	fns := resources(raw, "AWS::Lambda::Function")
	if ids := slices.Sorted(maps.Keys(fns)); !slices.Equal(ids, []string{"NotifyFunction", "PollFunction", "SubmitFunction", "SweepFunction"}) {
		t.Errorf("functions = %v", ids)
	}
	for id, p := range fns {
		arch, _ := p["Architectures"].([]any)
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || len(arch) != 1 || arch[0] != "arm64" {
			t.Errorf("%s: Runtime %v, Handler %v, Architectures %v; want provided.al2023, bootstrap, [arm64]", id, p["Runtime"], p["Handler"], arch)
		}
	}
}

// deadLetterQueues are the queues something parks messages in: redrive
// targets and the rules' dead-letter queues.
func deadLetterQueues(t *testing.T, raw map[string]any, app *Application, r *Resolver) map[string]bool {
	t.Helper()
	dlqs := map[string]bool{}
	for _, q := range app.Queues {
		if q.DeadLetterQueueID != "" {
			dlqs[q.DeadLetterQueueID] = true
		}
	}
	for id, p := range resources(raw, "AWS::Events::Rule") {
		for _, target := range p["Targets"].([]any) {
			if dlc, ok := target.(map[string]any)["DeadLetterConfig"].(map[string]any); ok {
				arn := mustString(t, r, dlc["Arn"])
				q := strings.TrimSuffix(arn, ".Arn")
				if _, ok := app.Queue(q); !ok {
					t.Errorf("rule %s: dead-letter queue %s is not a queue of the template", id, arn)
				}
				dlqs[q] = true
			}
		}
	}
	return dlqs
}

func TestTranslatedQueues(t *testing.T) {
	raw, app := translated(t)
	r := symbolic(t, app)
	dlqs := deadLetterQueues(t, raw, app, r)
	if len(dlqs) < 5 {
		t.Errorf("dead-letter queues = %v; want one for each of the jobs, completions, waiting and submit-failures queues and the rule", slices.Sorted(maps.Keys(dlqs)))
	}
	timeouts := map[string]float64{}
	for id, p := range resources(raw, "AWS::Lambda::Function") {
		timeouts[id] = p["Timeout"].(float64)
	}
	consumed := map[string]string{}
	for id, p := range resources(raw, "AWS::Lambda::EventSourceMapping") {
		queue := strings.TrimSuffix(mustString(t, r, p["EventSourceArn"]), ".Arn")
		fn := mustString(t, r, p["FunctionName"])
		consumed[queue] = fn
		q, ok := app.Queue(queue)
		if !ok {
			t.Errorf("event source mapping %s: %s is not a queue of the template", id, queue)
			continue
		}
		if min := 6 * timeouts[fn]; q.VisibilityTimeout.Seconds() < min {
			t.Errorf("%s: VisibilityTimeout %v; want >= 6 x %s's timeout, %vs", queue, q.VisibilityTimeout, fn, min)
		}
	}
	if len(consumed) != 3 {
		t.Errorf("consumed queues = %v; want the jobs, completions and waiting queues", consumed)
	}
	for _, q := range app.Queues {
		if !q.SQSManagedSSE {
			t.Errorf("%s: SqsManagedSseEnabled is not true", q.LogicalID)
		}
		if dlqs[q.LogicalID] {
			if q.MessageRetention.Hours() != 14*24 {
				t.Errorf("dead-letter queue %s keeps messages %v; want 14 days", q.LogicalID, q.MessageRetention)
			}
			continue
		}
		if q.DeadLetterQueueID == "" || q.MaxReceiveCount < 5 {
			t.Errorf("%s: redrive to %q after %d receives; want a dead-letter queue and maxReceiveCount >= 5", q.LogicalID, q.DeadLetterQueueID, q.MaxReceiveCount)
		}
	}
}

func TestTranslatedEventSourceMappings(t *testing.T) {
	raw, _ := translated(t)
	esms := resources(raw, "AWS::Lambda::EventSourceMapping")
	if len(esms) != 3 {
		t.Errorf("event source mappings = %v; want 3", slices.Sorted(maps.Keys(esms)))
	}
	for id, p := range esms {
		types, _ := p["FunctionResponseTypes"].([]any)
		if !slices.Contains(types, any("ReportBatchItemFailures")) {
			t.Errorf("%s: FunctionResponseTypes %v; want ReportBatchItemFailures", id, types)
		}
		scaling, _ := p["ScalingConfig"].(map[string]any)
		if c, _ := scaling["MaximumConcurrency"].(float64); c < 2 {
			t.Errorf("%s: ScalingConfig %v; want MaximumConcurrency >= 2", id, scaling)
		}
		if b, _ := p["BatchSize"].(float64); b < 1 || b > 10 {
			t.Errorf("%s: BatchSize %v; want 1 to 10", id, p["BatchSize"])
		}
	}
}

func TestTranslatedRuleAndAsyncInvocation(t *testing.T) {
	raw, app := translated(t)
	r := symbolic(t, app)
	var onBus []string
	for id, p := range resources(raw, "AWS::Events::Rule") {
		if p["EventBusName"] == nil {
			// On the default bus: the stack hints and the sweep schedule.
			continue
		}
		bus := mustString(t, r, p["EventBusName"])
		if app.Resources[bus] != "AWS::Events::EventBus" {
			continue
		}
		onBus = append(onBus, id)
		pattern, _ := p["EventPattern"].(map[string]any)
		if types, _ := pattern["detail-type"].([]any); !slices.Equal(types, []any{"Amplify Backend Job Requested"}) {
			t.Errorf("rule %s: detail-type %v; want [Amplify Backend Job Requested]", id, pattern["detail-type"])
		}
		targets, _ := p["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("rule %s: targets %v; want one", id, targets)
		}
		target := targets[0].(map[string]any)
		if arn := mustString(t, r, target["Arn"]); arn != "SubmitFunction.Arn" {
			t.Errorf("rule %s targets %s; want SubmitFunction", id, arn)
		}
		if target["RetryPolicy"] == nil || target["DeadLetterConfig"] == nil {
			t.Errorf("rule %s target: RetryPolicy %v, DeadLetterConfig %v; want both", id, target["RetryPolicy"], target["DeadLetterConfig"])
		}
	}
	if len(onBus) != 1 {
		t.Errorf("rules on the project's bus = %v; want one", onBus)
	}

	configs := resources(raw, "AWS::Lambda::EventInvokeConfig")
	if !slices.Equal(slices.Sorted(maps.Keys(configs)), []string{"PollFunctionEventInvokeConfig", "SubmitFunctionEventInvokeConfig", "SweepFunctionEventInvokeConfig"}) {
		t.Fatalf("event invoke configs = %v", slices.Sorted(maps.Keys(configs)))
	}
	for id, p := range configs {
		fn := mustString(t, r, p["FunctionName"])
		if fn != "SubmitFunction" {
			// Hints and sweeps: a lost one only delays; one retry, no
			// destination.
			if retries, _ := p["MaximumRetryAttempts"].(float64); retries != 1 {
				t.Errorf("%s: %v retries, want 1", id, retries)
			}
			continue
		}
		retries, _ := p["MaximumRetryAttempts"].(float64)
		onFailure, _ := p["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)
		if fn != "SubmitFunction" || retries != 2 || onFailure == nil {
			t.Fatalf("%s: function %s, %v retries, OnFailure %v; want SubmitFunction, 2 and a destination", id, fn, retries, onFailure)
		}
		if dest := mustString(t, r, onFailure["Destination"]); dest != "SubmitFailuresQueue.Arn" {
			t.Errorf("%s: OnFailure destination %s; want SubmitFailuresQueue", id, dest)
		}
	}
}

func TestTranslatedAlarms(t *testing.T) {
	raw, app := translated(t)
	r := symbolic(t, app)
	watched := map[string]bool{}
	for _, al := range app.Alarms {
		if ns, _ := al.Namespace.Literal(); ns != "AWS/SQS" || al.MetricName != "ApproximateNumberOfMessagesVisible" || len(al.Dimensions) != 1 {
			continue
		}
		if mustString(t, r, al.Threshold.v) != "0" || al.ComparisonOperator != "GreaterThanThreshold" || al.EvaluationPeriods != 1 {
			t.Errorf("%s: %s %v over %d periods; want GreaterThanThreshold 0 over 1", al.LogicalID, al.ComparisonOperator, al.Threshold, al.EvaluationPeriods)
		}
		watched[strings.TrimSuffix(mustString(t, r, al.Dimensions[0].Value.v), ".QueueName")] = true
	}
	want := deadLetterQueues(t, raw, app, r)
	want["SubmitFailuresQueue"] = true // the async invocations' dead-letter queue
	for q := range want {
		if !watched[q] {
			t.Errorf("no alarm on the depth of %s", q)
		}
	}
}

// amplifyActions are the Admin API actions each function's role may use.
var amplifyActions = map[string][]string{
	"SubmitFunctionRole": {
		"amplifybackend:ListBackendJobs", // finds the job of a call whose answer was lost
		"amplifybackend:CloneBackend", "amplifybackend:CreateBackend", "amplifybackend:CreateBackendAPI",
		"amplifybackend:CreateBackendAuth", "amplifybackend:CreateBackendStorage",
		"amplifybackend:DeleteBackend", "amplifybackend:DeleteBackendAPI", "amplifybackend:DeleteBackendAuth",
		"amplifybackend:DeleteBackendStorage", "amplifybackend:GenerateBackendAPIModels", "amplifybackend:ImportBackendAuth",
		"amplifybackend:ImportBackendStorage", "amplifybackend:UpdateBackendAPI", "amplifybackend:UpdateBackendAuth",
		"amplifybackend:UpdateBackendStorage",
	},
	"PollFunctionRole":   {"amplifybackend:GetBackendJob", "amplifybackend:ListBackendJobs"},
	"SweepFunctionRole":  {"amplifybackend:GetBackend", "amplifybackend:ListBackendJobs"},
	"NotifyFunctionRole": nil,
}

// grantsWithoutResource are the actions the roles may grant on Resource
// "*" because the action takes no resource, with why. None is used today;
// the README's security section lists this table.
var grantsWithoutResource = map[string]string{}

// managedPolicyStars names the AWS managed policies SAM would attach to a
// function's generated role and what of theirs is granted on Resource
// "*" (their documents as AWS publishes them): a role carrying one is not
// least privilege.
var managedPolicyStars = map[string]string{
	"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole":    "logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents on *",
	"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": "sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on every queue of the account, and logs on *",
	"arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess":                      "xray:PutTraceSegments and others on *",
}

// roleGrants is what each role may do with SQS and DynamoDB, as "action
// resource", and the state table's key families it may touch.
var roleGrants = map[string]struct {
	sqs      []string
	families []string
}{
	"SubmitFunctionRole": {sqs: append(consumes("WaitingQueue"), sends("CompletionsQueue", "JobsQueue", "SubmitFailuresQueue", "WaitingQueue")...),
		families: []string{"env#*", "job#*", "line#*", "req#*"}},
	"PollFunctionRole": {sqs: append(consumes("JobsQueue"), sends("CompletionsQueue", "JobsDeadLetterQueue", "JobsQueue", "WaitingQueue")...),
		families: []string{"env#*", "job#*"}},
	"SweepFunctionRole":  {sqs: sends("JobsQueue", "WaitingQueue"), families: []string{"env#*", "job#*", "line#*"}},
	"NotifyFunctionRole": {sqs: append(consumes("CompletionsQueue"), sends("CompletionsDeadLetterQueue", "CompletionsQueue")...), families: []string{"evt#*"}},
}

func consumes(queue string) []string {
	var out []string
	for _, a := range []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"} {
		out = append(out, a+" "+queue+".Arn")
	}
	return out
}

func sends(queues ...string) []string {
	var out []string
	for _, q := range queues {
		out = append(out, "sqs:SendMessage "+q+".Arn")
	}
	return out
}

// grant is one action on one resource, under a statement's condition.
type grant struct {
	role, action, resource string
	stmt                   map[string]any
}

// roleGrantList returns every grant of a role's inline policies.
func roleGrantList(t *testing.T, r *Resolver, id string, role map[string]any) []grant {
	t.Helper()
	var out []grant
	for _, policy := range rolePolicies(t, r, role) {
		for _, st := range asList(policy["PolicyDocument"].(map[string]any)["Statement"]) {
			stmt := st.(map[string]any)
			if stmt["NotAction"] != nil || stmt["NotResource"] != nil || stmt["Effect"] != "Allow" {
				t.Errorf("%s: statement %v: only Allow with Action and Resource, no NotAction/NotResource", id, stmt)
			}
			for _, a := range mustStrings(t, r, stmt["Action"]) {
				for _, res := range mustStrings(t, r, stmt["Resource"]) {
					out = append(out, grant{role: id, action: a, resource: res, stmt: stmt})
				}
			}
		}
	}
	return out
}

// TestTranslatedIAM checks that each function's role is least privilege
// in what AWS will create: no managed policy, no action or resource "*",
// logs only to the function's own log group, SQS only on its own queues
// and those it feeds, DynamoDB only on its key families of the state table,
// and the Admin API only for its actions on the allowed apps.
func TestTranslatedIAM(t *testing.T) {
	raw, app := translated(t)
	r := symbolic(t, app)
	roles := resources(raw, "AWS::IAM::Role")
	if ids := slices.Sorted(maps.Keys(roles)); !slices.Equal(ids, slices.Sorted(maps.Keys(roleGrants))) {
		t.Errorf("roles = %v; want one per function %v", ids, slices.Sorted(maps.Keys(roleGrants)))
	}
	for id, role := range roles {
		arns, _ := role["ManagedPolicyArns"].([]any)
		for _, arn := range arns {
			t.Errorf("%s: managed policy %v; it grants %s", id, arn, cmp.Or(managedPolicyStars[fmt.Sprint(arn)], "what this test cannot check"))
		}
		var sqs, amplify []string
		for _, g := range roleGrantList(t, r, id, role) {
			checkGrant(t, r, g)
			switch service, _, _ := strings.Cut(g.action, ":"); service {
			case "sqs":
				sqs = append(sqs, g.action+" "+g.resource)
			case "amplifybackend":
				amplify = append(amplify, g.action)
			}
		}
		want := roleGrants[id]
		if got := slices.Compact(slices.Sorted(slices.Values(sqs))); !slices.Equal(got, want.sqs) {
			t.Errorf("%s: SQS grants\n%q\nwant\n%q", id, got, want.sqs)
		}
		if got, wantA := slices.Compact(slices.Sorted(slices.Values(amplify))), slices.Sorted(slices.Values(amplifyActions[id])); !slices.Equal(got, wantA) {
			t.Errorf("%s: amplifybackend actions\n%v\nwant\n%v", id, got, wantA)
		}
	}
}

// checkGrant checks one grant against the rules of TestTranslatedIAM.
func checkGrant(t *testing.T, r *Resolver, g grant) {
	t.Helper()
	name := g.role + " " + g.action
	if g.action == "*" || strings.HasSuffix(g.action, ":*") {
		t.Errorf("%s: every action of a service", name)
	}
	if g.resource == "*" {
		if why, ok := grantsWithoutResource[g.action]; !ok {
			t.Errorf("%s on resource *", name)
		} else {
			t.Logf("%s on * (%s)", name, why)
		}
	}
	switch service, _, _ := strings.Cut(g.action, ":"); service {
	case "logs":
		if want := strings.TrimSuffix(g.role, "Role") + "LogGroup.Arn"; g.resource != want {
			t.Errorf("%s on %s; want only %s", name, g.resource, want)
		}
	case "dynamodb":
		leading := conditionValues(t, r, g.stmt, "ForAllValues:StringLike", "dynamodb:LeadingKeys")
		if g.resource != "StateTable.Arn" || !slices.Equal(slices.Sorted(slices.Values(leading)), roleGrants[g.role].families) {
			t.Errorf("%s on %s for keys %v; want StateTable.Arn for keys %v", name, g.resource, leading, roleGrants[g.role].families)
		}
	case "amplifybackend":
		checkAmplifyGrant(t, r, g)
	}
}

// conditionValues reads the values a statement's condition operator sets
// for a key.
func conditionValues(t *testing.T, r *Resolver, stmt map[string]any, operator, key string) []string {
	t.Helper()
	cond, _ := stmt["Condition"].(map[string]any)
	op, _ := cond[operator].(map[string]any)
	if op[key] == nil {
		return nil
	}
	return mustStrings(t, r, op[key])
}

var appARN = regexp.MustCompile(`^arn:aws:amplifybackend:\$\{aws:RequestedRegion\}:\$\{aws:PrincipalAccount\}:/backend/(d1abc23|d4def56)(/\*)?$`)

// checkAmplifyGrant checks an Admin API grant names only the allowed apps,
// in the stack's region.
func checkAmplifyGrant(t *testing.T, r *Resolver, g grant) {
	t.Helper()
	if !appARN.MatchString(g.resource) {
		t.Errorf("%s %s on %s; want only the allowed apps' ARNs", g.role, g.action, g.resource)
	}
	resources := mustStrings(t, r, g.stmt["Resource"])
	sort.Strings(resources)
	want := []string{
		"arn:aws:amplifybackend:${aws:RequestedRegion}:${aws:PrincipalAccount}:/backend/d1abc23",
		"arn:aws:amplifybackend:${aws:RequestedRegion}:${aws:PrincipalAccount}:/backend/d1abc23/*",
		"arn:aws:amplifybackend:${aws:RequestedRegion}:${aws:PrincipalAccount}:/backend/d4def56",
		"arn:aws:amplifybackend:${aws:RequestedRegion}:${aws:PrincipalAccount}:/backend/d4def56/*",
	}
	if !slices.Equal(resources, want) {
		t.Errorf("%s %s: resources\n%v\nwant\n%v", g.role, g.action, resources, want)
	}
	if region := conditionValues(t, r, g.stmt, "StringEquals", "aws:RequestedRegion"); !slices.Equal(region, []string{"us-east-1"}) {
		t.Errorf("%s %s: region condition %v; want aws:RequestedRegion pinned to the stack's region", g.role, g.action, region)
	}
}

// rolePolicies returns a role's inline policies as r's parameters make
// them: a policy under Fn::If is there or not.
func rolePolicies(t *testing.T, r *Resolver, role map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range role["Policies"].([]any) {
		v, err := r.Resolve(Expr{p})
		if err != nil {
			t.Fatalf("resolve policy %s: %v", Expr{p}, err)
		}
		if v != nil {
			out = append(out, v.(map[string]any))
		}
	}
	return out
}

// TestTranslatedNotifyPermissions pins what notify may do beyond its queue
// and bus: publish to the notification topic, and read the one SSM
// parameter or secret SlackWebhookParameter names, if any.
func TestTranslatedNotifyPermissions(t *testing.T) {
	raw, app := translated(t)
	role := resources(raw, "AWS::IAM::Role")["NotifyFunctionRole"]
	for name, tc := range map[string]struct {
		webhook string
		want    []string // "action resource" beyond the queue and bus
	}{
		"Slack off": {webhook: "",
			want: []string{"dynamodb:DeleteItem StateTable.Arn", "dynamodb:PutItem StateTable.Arn",
				"sns:Publish NotificationTopic"}},
		"webhook in SSM": {webhook: "ssm:/jobwatch/slack-webhook", want: []string{
			"dynamodb:DeleteItem StateTable.Arn", "dynamodb:PutItem StateTable.Arn",
			"sns:Publish NotificationTopic",
			"ssm:GetParameter arn:aws:ssm:us-east-1:123456789012:parameter/jobwatch/slack-webhook",
		}},
		"webhook in Secrets Manager": {webhook: "secretsmanager:jobwatch/slack", want: []string{
			"dynamodb:DeleteItem StateTable.Arn", "dynamodb:PutItem StateTable.Arn",
			"secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1:123456789012:secret:jobwatch/slack-??????",
			"sns:Publish NotificationTopic",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			params := map[string]string{"SlackWebhookParameter": tc.webhook}
			for k, v := range translateParams {
				params[k] = v
			}
			r := symbolicWith(t, app, params)
			var got []string
			for _, policy := range rolePolicies(t, r, role) {
				for _, st := range asList(policy["PolicyDocument"].(map[string]any)["Statement"]) {
					stmt := st.(map[string]any)
					for _, a := range mustStrings(t, r, stmt["Action"]) {
						if strings.HasPrefix(a, "sqs:") || strings.HasPrefix(a, "events:") || strings.HasPrefix(a, "logs:") {
							continue
						}
						for _, res := range mustStrings(t, r, stmt["Resource"]) {
							got = append(got, a+" "+res)
						}
					}
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("notify may\n%q\nwant\n%q", got, tc.want)
			}
			env, err := r.Environment(&Function{LogicalID: "NotifyFunction", Environment: notifyEnvironment(t, raw)})
			if err != nil {
				t.Fatal(err)
			}
			if got, set := env["SLACK_WEBHOOK_PARAMETER"]; got != tc.webhook || set != (tc.webhook != "") {
				t.Errorf("SLACK_WEBHOOK_PARAMETER = %q (set %v), want %q", got, set, tc.webhook)
			}
		})
	}
}

// notifyEnvironment is NotifyFunction's environment in the translation.
func notifyEnvironment(t *testing.T, raw map[string]any) map[string]Expr {
	t.Helper()
	vars := resources(raw, "AWS::Lambda::Function")["NotifyFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
	env := map[string]Expr{}
	for k, v := range vars {
		env[k] = Expr{v}
	}
	return env
}

// TestTranslatedNotificationTopic checks the topic is encrypted and the
// email subscriptions exist only with an address: one filtered on status,
// one for the alarms (messages without a status).
func TestTranslatedNotificationTopic(t *testing.T) {
	raw, app := translated(t)
	topics := resources(raw, "AWS::SNS::Topic")
	if len(topics) != 1 || topics["NotificationTopic"]["KmsMasterKeyId"] != "alias/aws/sns" {
		t.Errorf("topics = %v; want NotificationTopic encrypted with alias/aws/sns", topics)
	}
	subs := resources(raw, "AWS::SNS::Subscription")
	sub, ok := subs["NotificationEmailSubscription"]
	if ids := slices.Sorted(maps.Keys(subs)); !ok || !slices.Equal(ids, []string{"AlarmEmailSubscription", "NotificationEmailSubscription"}) {
		t.Fatalf("subscriptions = %v; want AlarmEmailSubscription, NotificationEmailSubscription", ids)
	}
	for id := range subs {
		if cond := raw["Resources"].(map[string]any)[id].(map[string]any)["Condition"]; cond != "HasNotificationEmail" {
			t.Errorf("%s condition = %v; want HasNotificationEmail", id, cond)
		}
	}
	if got, _ := json.Marshal(subs["AlarmEmailSubscription"]["FilterPolicy"]); string(got) != `{"status":[{"exists":false}]}` {
		t.Errorf("alarm subscription filter = %s; want messages without a status attribute", got)
	}
	for name, tc := range map[string]struct {
		params     map[string]string
		wantOn     bool
		wantFilter string
	}{
		"no address":        {params: map[string]string{}, wantOn: false, wantFilter: `{"status":["FAILED","TIMED_OUT"]}`},
		"address, defaults": {params: map[string]string{"NotificationEmail": "ops@example.com"}, wantOn: true, wantFilter: `{"status":["FAILED","TIMED_OUT"]}`},
		"address, lost too": {params: map[string]string{"NotificationEmail": "ops@example.com", "NotificationEmailStatuses": "FAILED,TIMED_OUT,LOST"},
			wantOn: true, wantFilter: `{"status":["FAILED","TIMED_OUT","LOST"]}`},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range translateParams {
				tc.params[k] = v
			}
			r := symbolicWith(t, app, tc.params)
			on, err := r.Condition("HasNotificationEmail")
			if err != nil || on != tc.wantOn {
				t.Errorf("HasNotificationEmail = %v, %v; want %v", on, err, tc.wantOn)
			}
			filter, err := r.Resolve(Expr{sub["FilterPolicy"]})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(filter); string(got) != tc.wantFilter || sub["FilterPolicyScope"] != "MessageAttributes" {
				t.Errorf("filter policy = %s (scope %v); want %s on MessageAttributes", got, sub["FilterPolicyScope"], tc.wantFilter)
			}
			if tc.wantOn && (sub["Protocol"] != "email" || mustString(t, r, sub["Endpoint"]) != tc.params["NotificationEmail"] ||
				mustString(t, r, sub["TopicArn"]) != "NotificationTopic") {
				t.Errorf("subscription = %v", sub)
			}
		})
	}
}

func TestTranslatedOutputs(t *testing.T) {
	raw, app := translated(t)
	r := symbolic(t, app)
	outputs := map[string]bool{}
	for _, o := range app.Outputs {
		outputs[mustString(t, r, o.Value.v)] = true
	}
	want := []string{"EventBus", "EventBus.Arn", "StateTable", "NotificationTopic"}
	for _, q := range app.Queues {
		want = append(want, q.LogicalID)
	}
	for id := range resources(raw, "AWS::Lambda::Function") {
		want = append(want, id, id+".Arn")
	}
	for _, w := range want {
		if !outputs[w] {
			t.Errorf("no output gives %s", w)
		}
	}
}

func asList(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	return []any{v}
}
