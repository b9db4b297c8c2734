package samtemplate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustParse parses testdata/name as a template in /app.
func mustParse(t *testing.T, name string) *Application {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	app, err := Parse(data, "/app")
	if err != nil {
		t.Fatalf("Parse %s: %v", name, err)
	}
	return app
}

func mustFunction(t *testing.T, app *Application, id string) *Function {
	t.Helper()
	f, ok := app.Function(id)
	if !ok {
		t.Fatalf("no function %s", id)
	}
	return f
}

func TestParseFunctionAppliesGlobals(t *testing.T) {
	app := mustParse(t, "globals.yaml")
	w := mustFunction(t, app, "WorkerFunction")
	if w.Runtime != "provided.al2023" || w.Handler != "bootstrap" || !reflect.DeepEqual(w.Architectures, []string{"arm64"}) {
		t.Errorf("runtime %q handler %q architectures %v; want the globals' runtime and architectures and its own handler", w.Runtime, w.Handler, w.Architectures)
	}
	if w.Timeout != time.Minute {
		t.Errorf("Timeout = %v; want the function's own 60s over the globals' 30s", w.Timeout)
	}
	if w.MemorySize != 128 {
		t.Errorf("MemorySize = %d; want Lambda's default 128", w.MemorySize)
	}
	if w.CodeURI != "src/" || w.CodeDir != "/app/src" || w.BuildMethod != "makefile" {
		t.Errorf("CodeURI %q CodeDir %q BuildMethod %q", w.CodeURI, w.CodeDir, w.BuildMethod)
	}
	wantEnv := map[string]string{
		"LOG_LEVEL": `{"Ref":"LogLevel"}`,
		"SHARED":    `{"Fn::Sub":"${AWS::Region}-own"}`,
		"QUEUE_URL": `{"Ref":"WorkQueue"}`,
	}
	if got := envStrings(w.Environment); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("Environment = %v; want %v (variables merged, the function's own winning)", got, wantEnv)
	}
	p := mustFunction(t, app, "PlainFunction")
	if p.Timeout != 30*time.Second || len(p.Environment) != 2 {
		t.Errorf("PlainFunction Timeout %v, %d variables; want the globals' 30s and 2 variables", p.Timeout, len(p.Environment))
	}
}

func TestMergeGlobal(t *testing.T) {
	tests := map[string]struct {
		global, local, want any
	}{
		"local scalar wins":  {global: "a", local: "b", want: "b"},
		"global fills a gap": {global: "a", local: nil, want: "a"},
		"lists concatenate":  {global: []any{"g"}, local: []any{"l"}, want: []any{"g", "l"}},
		"maps merge": {
			global: map[string]any{"A": "g", "B": "g"},
			local:  map[string]any{"B": "l", "C": "l"},
			want:   map[string]any{"A": "g", "B": "l", "C": "l"},
		},
		"an intrinsic is a scalar": {
			global: map[string]any{"A": "g"},
			local:  map[string]any{"Ref": "X"},
			want:   map[string]any{"Ref": "X"},
		},
		"a global intrinsic is a scalar": {
			global: map[string]any{"Fn::If": []any{"C", map[string]any{"A": "g"}, "x"}},
			local:  map[string]any{"B": "l"},
			want:   map[string]any{"B": "l"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := mergeGlobal(tc.global, tc.local); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("mergeGlobal(%v, %v) = %v; want %v", tc.global, tc.local, got, tc.want)
			}
		})
	}
}

func TestParseEventSources(t *testing.T) {
	app := mustParse(t, "events.yaml")
	f := mustFunction(t, app, "Fn")
	wantSQS := []SQSEvent{
		{
			Name: "Defaults", Queue: Expr{"arn:aws:sqs:us-east-1:123456789012:elsewhere"},
			BatchSize: 10, Enabled: false,
		},
		{
			Name: "Work", Queue: Expr{map[string]any{"Fn::GetAtt": []any{"WorkQueue", "Arn"}}}, QueueID: "WorkQueue",
			BatchSize: 5, MaximumBatchingWindow: 3 * time.Second, MaximumConcurrency: 4,
			ReportBatchItemFailures: true, Enabled: true,
		},
	}
	if !reflect.DeepEqual(f.SQSEvents, wantSQS) {
		t.Errorf("SQSEvents =\n%+v\nwant\n%+v", f.SQSEvents, wantSQS)
	}
	if len(f.EventBridgeRules) != 1 {
		t.Fatalf("EventBridgeRules = %+v; want one", f.EventBridgeRules)
	}
	r := f.EventBridgeRules[0]
	if r.EventBusID != "Bus" || r.DeadLetterQueueID != "RuleDLQ" || r.MaximumRetryAttempts == nil || *r.MaximumRetryAttempts != 3 ||
		r.MaximumEventAge != 10*time.Minute || !r.Enabled {
		t.Errorf("rule = %+v", r)
	}
	if got, want := r.Pattern.String(), `{"detail-type":["Thing Happened"],"source":[{"Ref":"Source"}]}`; got != want {
		t.Errorf("Pattern = %s; want %s", got, want)
	}
	wantSchedules := []Schedule{{Name: "Sweep", Expression: Expr{"rate(5 minutes)"}, Input: Expr{`{"sweep":true}`}, Enabled: true}}
	if !reflect.DeepEqual(f.Schedules, wantSchedules) {
		t.Errorf("Schedules = %+v; want %+v", f.Schedules, wantSchedules)
	}
	c := f.EventInvokeConfig
	if c == nil || c.MaximumRetryAttempts == nil || *c.MaximumRetryAttempts != 0 || c.OnSuccess != nil ||
		c.OnFailure == nil || c.OnFailure.Type != "SQS" || c.OnFailure.DestinationID != "Failures" {
		t.Errorf("EventInvokeConfig = %+v; want 0 retries and an SQS OnFailure destination Failures", c)
	}
	bus, ok := app.EventBus("Bus")
	if !ok || bus.Name.String() != `{"Fn::Sub":"${AWS::StackName}-bus"}` {
		t.Errorf("bus = %+v", bus)
	}
}

func TestParseQueuesInCreationOrder(t *testing.T) {
	app := mustParse(t, "queues.yaml")
	var order []string
	for _, q := range app.Queues {
		order = append(order, q.LogicalID)
	}
	if want := []string{"Ordered", "ZDeadLetters", "AQueue", "BQueue"}; !reflect.DeepEqual(order, want) {
		t.Errorf("queue order = %v; want %v (dead-letter queues before their sources)", order, want)
	}
	a, _ := app.Queue("AQueue")
	want := &Queue{
		LogicalID: "AQueue", VisibilityTimeout: 3 * time.Minute, Delay: 5 * time.Second,
		MessageRetention: 4 * 24 * time.Hour, SQSManagedSSE: true, DeadLetterQueueID: "ZDeadLetters", MaxReceiveCount: 5,
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("AQueue =\n%+v\nwant\n%+v", a, want)
	}
	b, _ := app.Queue("BQueue")
	if b.DeadLetterQueueID != "ZDeadLetters" || b.MaxReceiveCount != 7 || b.VisibilityTimeout != 30*time.Second {
		t.Errorf("BQueue = %+v; want the JSON-string redrive policy read and SQS's default visibility", b)
	}
	o, _ := app.Queue("Ordered")
	if !o.FIFO || !o.ContentBasedDeduplication || o.Name.String() != `"ordered.fifo"` || o.MessageRetention != 14*24*time.Hour {
		t.Errorf("Ordered = %+v", o)
	}
}

func TestParseTableTopicAlarm(t *testing.T) {
	app := mustParse(t, "table-topic-alarm.yaml")
	state, _ := app.Table("State")
	wantState := &Table{
		LogicalID: "State", BillingMode: "PAY_PER_REQUEST", TTLAttribute: "expiresAt", PointInTimeRecovery: true, SSE: true,
		KeySchema: []KeyElement{{"pk", "S", "HASH"}, {"sk", "N", "RANGE"}},
	}
	if !reflect.DeepEqual(state, wantState) {
		t.Errorf("State =\n%+v\nwant\n%+v", state, wantState)
	}
	plain, _ := app.Table("Plain")
	if plain.BillingMode != "PROVISIONED" || plain.TTLAttribute != "" {
		t.Errorf("Plain = %+v; want the PROVISIONED default and no TTL (disabled)", plain)
	}
	if len(app.Topics) != 1 || app.Topics[0].Name.String() != `{"Fn::Sub":"${AWS::StackName}-alerts"}` {
		t.Errorf("Topics = %+v", app.Topics)
	}
	if len(app.Alarms) != 1 {
		t.Fatalf("Alarms = %+v", app.Alarms)
	}
	al := app.Alarms[0]
	if al.Dimensions[0].Value.Target("QueueName") != "Q" || al.Period != time.Minute || al.ComparisonOperator != "GreaterThanThreshold" ||
		len(al.AlarmActions) != 1 || al.AlarmActions[0].Target("") != "Alerts" {
		t.Errorf("alarm = %+v", al)
	}
}

func TestParseErrors(t *testing.T) {
	fn := func(props string) string {
		return "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n" + props +
			"  Q:\n    Type: AWS::SQS::Queue\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n"
	}
	tests := map[string]struct {
		template string
		want     string
	}{
		"no resources": {"Parameters: {}\n", "no Resources"},
		"no type":      {"Resources:\n  X:\n    Properties: {}\n", "resource X: no Type"},
		"event type not modelled": {
			fn("      Events:\n        Up:\n          Type: Api\n          Properties: {Path: /, Method: get}\n"),
			"Events.Up.Type is Api",
		},
		"SAM-made rule dead-letter queue": {
			fn("      Events:\n        R:\n          Type: EventBridgeRule\n          Properties:\n            Pattern: {source: [x]}\n            DeadLetterConfig: {Type: SQS}\n"),
			"DeadLetterConfig.Type asks SAM to create",
		},
		"event on a table": {
			fn("      Events:\n        S:\n          Type: SQS\n          Properties: {Queue: !GetAtt Table.Arn}\n"),
			"names Table, which is AWS::DynamoDB::Table; want an AWS::SQS::Queue",
		},
		"timeout from a parameter": {fn("      Timeout: !Ref T\n"), `Timeout is {"Ref":"T"}; want a whole number`},
		"code in S3":               {"Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: s3://b/k.zip\n", "want a local path"},
		"missing queue of an event": {
			fn("      Events:\n        S:\n          Type: SQS\n          Properties: {BatchSize: 1}\n"),
			"Events.S.Properties.Queue is required",
		},
		"unknown queue property": {
			"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimout: 30\n",
			"resource Q (AWS::SQS::Queue): VisibilityTimout is not a property of AWS::SQS::Queue",
		},
		"redrive to an ARN": {
			"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: {deadLetterTargetArn: arn:aws:sqs:us-east-1:1:x, maxReceiveCount: 5}\n",
			"RedrivePolicy.deadLetterTargetArn is \"arn:aws:sqs:us-east-1:1:x\"; want !GetAtt <queue>.Arn",
		},
		"redrive cycle": {
			"Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 5}\n" +
				"  B:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 5}\n",
			"redrive policies form a cycle",
		},
		"unknown tag": {
			"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sbu x\n",
			"line 5: unknown tag !Sbu",
		},
		"misspelt resource attribute": {
			"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Propertes: {VisibilityTimeout: 30}\n",
			"resource Q: Propertes is not a resource attribute",
		},
		"a call where a map is wanted": {
			fn("      Environment: !If [C, {Variables: {A: b}}, !Ref AWS::NoValue]\n"),
			`Environment is {"Fn::If":["C",{"Variables":{"A":"b"}},{"Ref":"AWS::NoValue"}]}; want a map`,
		},
		"duplicate key": {
			"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SNS::Topic\n",
			"line 4: Q appears twice",
		},
		"key not defined": {
			"Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n",
			"KeySchema names pk, which is not among the AttributeDefinitions",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.template), "/app")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDecode: short forms read as their long forms, JSON as YAML, numbers
// as float64; a string that looks like an encoded call stays a string.
func TestDecode(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string
	}{
		"plain string":          {"hello", `"hello"`},
		"base64 but not a call": {"aGVsbG8gd29ybGQh", `"aGVsbG8gd29ybGQh"`},
		"number":                {"5", `5`},
		"quoted number":         {`"5"`, `"5"`},
		"ref":                   {"!Ref Q", `{"Ref":"Q"}`},
		"nested":                {`!Join [",", [!Ref A, b]]`, `{"Fn::Join":[",",[{"Ref":"A"},"b"]]}`},
		"short getatt":          {"!GetAtt Q.Arn", `{"Fn::GetAtt":["Q","Arn"]}`},
		"long getatt":           {"{Fn::GetAtt: Q.Arn}", `{"Fn::GetAtt":["Q","Arn"]}`},
		"inside a map":          {"{k: !Ref Q}", `{"k":{"Ref":"Q"}}`},
		"condition":             {"!Not [!Condition C]", `{"Fn::Not":[{"Condition":"C"}]}`},
		"tagged number":         {"!Base64 5", `{"Fn::Base64":"5"}`},
		"JSON":                  {`{"k": [1, true, null, {"Ref": "Q"}]}`, `{"k":[1,true,null,{"Ref":"Q"}]}`},
		"alias":                 {"{a: &x [!Ref Q], b: *x}", `{"a":[{"Ref":"Q"}],"b":[{"Ref":"Q"}]}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := decode([]byte("V: " + tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := (Expr{doc["V"]}).String(); got != tc.want {
				t.Errorf("decode(%s) = %s; want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestExprTarget(t *testing.T) {
	tests := map[string]struct {
		e    Expr
		attr string
		want string
	}{
		"ref":            {Expr{map[string]any{"Ref": "Q"}}, "", "Q"},
		"getatt":         {Expr{map[string]any{"Fn::GetAtt": []any{"Q", "Arn"}}}, "Arn", "Q"},
		"other attr":     {Expr{map[string]any{"Fn::GetAtt": []any{"Q", "QueueName"}}}, "Arn", ""},
		"ref, want attr": {Expr{map[string]any{"Ref": "Q"}}, "Arn", ""},
		"literal":        {Expr{"arn:aws:sqs:x"}, "Arn", ""},
		"sub":            {Expr{map[string]any{"Fn::Sub": "${Q.Arn}"}}, "Arn", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.e.Target(tc.attr); got != tc.want {
				t.Errorf("%s.Target(%q) = %q; want %q", tc.e, tc.attr, got, tc.want)
			}
		})
	}
}

// envStrings shows an environment's expressions in their JSON form.
func envStrings(env map[string]Expr) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v.String()
	}
	return out
}

// TestParseConcurrently: Load may be called from several goroutines.
func TestParseConcurrently(t *testing.T) {
	const template = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub ${AWS::StackName}-q\n"
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := Parse([]byte(template), "/app")
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
