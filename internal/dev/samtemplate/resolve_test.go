package samtemplate

import (
	"reflect"
	"strings"
	"testing"
)

func mustResolver(t *testing.T, app *Application, f Facts) *Resolver {
	t.Helper()
	r, err := app.NewResolver(f)
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	return r
}

func TestResolve(t *testing.T) {
	app := mustParse(t, "resolve.yaml")
	r := mustResolver(t, app, Facts{
		Region: "eu-west-1", AccountID: "123456789012", StackName: "stack",
		Parameters: map[string]string{"Apps": "d1,d2,d3"},
		Refs:       map[string]string{"Jobs": "http://sqs.local/123456789012/jobs", "Bus": "stack-bus"},
		Attrs:      map[string]string{"Jobs.Arn": "arn:aws:sqs:eu-west-1:123456789012:jobs", "Jobs.QueueName": "jobs"},
	})
	ref := func(name string) map[string]any { return map[string]any{"Ref": name} }
	tests := map[string]struct {
		in   any
		want any
	}{
		"literal":              {"plain", "plain"},
		"parameter default":    {ref("Stage"), "dev"},
		"number parameter":     {ref("Size"), "3"},
		"list parameter":       {ref("Apps"), []any{"d1", "d2", "d3"}},
		"pseudo parameters":    {[]any{ref("AWS::Region"), ref("AWS::AccountId"), ref("AWS::StackName"), ref("AWS::Partition"), ref("AWS::URLSuffix")}, []any{"eu-west-1", "123456789012", "stack", "aws", "amazonaws.com"}},
		"resource ref":         {ref("Jobs"), "http://sqs.local/123456789012/jobs"},
		"getatt":               {map[string]any{"Fn::GetAtt": []any{"Jobs", "Arn"}}, "arn:aws:sqs:eu-west-1:123456789012:jobs"},
		"sub names":            {map[string]any{"Fn::Sub": "${AWS::Region}/${Stage}/${Jobs}/${Jobs.QueueName}"}, "eu-west-1/dev/http://sqs.local/123456789012/jobs/jobs"},
		"sub literal":          {map[string]any{"Fn::Sub": "${!aws:username} costs $5 {x}"}, "${aws:username} costs $5 {x}"},
		"sub variables":        {map[string]any{"Fn::Sub": []any{"${Name}-${Stage}", map[string]any{"Name": map[string]any{"Fn::GetAtt": []any{"Jobs", "QueueName"}}}}}, "jobs-dev"},
		"join list parameter":  {map[string]any{"Fn::Join": []any{",", ref("Apps")}}, "d1,d2,d3"},
		"join mixed":           {map[string]any{"Fn::Join": []any{"/", []any{"a", ref("Stage"), 5.0}}}, "a/dev/5"},
		"select from split":    {map[string]any{"Fn::Select": []any{"1", map[string]any{"Fn::Split": []any{",", "x,y,z"}}}}, "y"},
		"select from list":     {map[string]any{"Fn::Select": []any{2.0, ref("Apps")}}, "d3"},
		"if true":              {map[string]any{"Fn::If": []any{"IsDev", "debug", "quiet"}}, "debug"},
		"if false":             {map[string]any{"Fn::If": []any{"IsProd", "quiet", "debug"}}, "debug"},
		"no value in a list":   {[]any{"a", ref("AWS::NoValue"), "b"}, []any{"a", "b"}},
		"no value in a map":    {map[string]any{"a": "1", "b": map[string]any{"Fn::If": []any{"IsProd", "2", ref("AWS::NoValue")}}}, map[string]any{"a": "1"}},
		"no value alone":       {ref("AWS::NoValue"), nil},
		"per-app ARNs (trick)": {map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Join": []any{"", []any{"arn:x:/backend/", map[string]any{"Fn::Join": []any{"/*,arn:x:/backend/", ref("Apps")}}, "/*"}}}}}, []any{"arn:x:/backend/d1/*", "arn:x:/backend/d2/*", "arn:x:/backend/d3/*"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := r.Resolve(Expr{tc.in})
			if err != nil {
				t.Fatalf("Resolve(%s): %v", Expr{tc.in}, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Resolve(%s) = %#v; want %#v", Expr{tc.in}, got, tc.want)
			}
		})
	}
	for name, want := range map[string]bool{"IsProd": false, "IsDev": true, "BigDev": true, "Either": false} {
		if got, err := r.Condition(name); err != nil || got != want {
			t.Errorf("Condition(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	app := mustParse(t, "resolve.yaml")
	r := mustResolver(t, app, Facts{Region: "eu-west-1", Parameters: map[string]string{"Apps": "d1"}})
	ref := func(name string) map[string]any { return map[string]any{"Ref": name} }
	tests := map[string]struct {
		in   any
		want string
	}{
		"resource without a fact":  {ref("Jobs"), `Ref: no value for the AWS::SQS::Queue Jobs: set Facts.Refs["Jobs"]`},
		"attribute without a fact": {map[string]any{"Fn::GetAtt": []any{"Jobs", "Arn"}}, `set Facts.Attrs["Jobs.Arn"]`},
		"unknown name":             {ref("Nope"), "Nope is neither a parameter nor a resource"},
		"unset pseudo parameter":   {ref("AWS::AccountId"), "no value for AWS::AccountId"},
		"unsupported pseudo":       {ref("AWS::StackId"), "AWS::StackId is not supported"},
		"unsupported function":     {map[string]any{"Fn::FindInMap": []any{"M", "a", "b"}}, "Fn::FindInMap: not supported"},
		"sub of an unknown name":   {map[string]any{"Fn::Sub": "${aws:username}"}, "${aws:username}: aws:username is neither"},
		"select out of range":      {map[string]any{"Fn::Select": []any{"3", ref("Apps")}}, "index 3 is outside the list of 1"},
		"join with a computed delimiter": {
			map[string]any{"Fn::Join": []any{ref("Stage"), []any{"a"}}}, "the delimiter must be a literal string",
		},
		"unknown condition": {map[string]any{"Fn::If": []any{"Nope", "a", "b"}}, "condition Nope: not in the template"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := r.Resolve(Expr{tc.in})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Resolve(%s) error = %v; want one containing %q", Expr{tc.in}, err, tc.want)
			}
		})
	}
}

func TestNewResolverChecksParameters(t *testing.T) {
	app := mustParse(t, "resolve.yaml")
	tests := map[string]struct {
		params map[string]string
		want   string
	}{
		"required parameter missing": {nil, "parameter Apps: has no value and the template gives no default"},
		"pattern":                    {map[string]string{"Apps": "d1,x2"}, `parameter Apps: is "x2"; want a value matching ^d[a-z0-9]+$`},
		"empty list":                 {map[string]string{"Apps": ""}, `parameter Apps: is ""`},
		"allowed values":             {map[string]string{"Apps": "d1", "Stage": "qa"}, `parameter Stage: is "qa"; want one of dev, prod`},
		"number":                     {map[string]string{"Apps": "d1", "Size": "three"}, `parameter Size: is "three"; want a number`},
		"unknown parameter":          {map[string]string{"Apps": "d1", "Colour": "red"}, "parameter Colour: not in the template"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := app.NewResolver(Facts{Parameters: tc.params})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewResolver error = %v; want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	app := mustParse(t, "environment.yaml")
	f := mustFunction(t, app, "Fn")
	r := mustResolver(t, app, Facts{Refs: map[string]string{"Q": "http://q"}})
	env, err := r.Environment(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"LEVEL": "INFO", "QUEUE": "http://q", "COUNT": "5", "DEBUG": "true"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("Environment = %v; want %v", env, want)
	}

	_, err = mustResolver(t, app, Facts{}).Environment(f)
	if err == nil || !strings.Contains(err.Error(), `Fn environment QUEUE: Ref: no value for the AWS::SQS::Queue Q`) {
		t.Errorf("Environment without facts: error = %v; want it to name QUEUE and the missing queue", err)
	}
}
