package stacks_test

import (
	"slices"
	"testing"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/stacks"
)

// TestTableCoversJobOperations checks the table has exactly the
// operations that start jobs, each with a scope, a reason, and final
// statuses unless it changes no stack.
func TestTableCoversJobOperations(t *testing.T) {
	var want []string
	for _, op := range amplify.Operations() {
		if op.StartsJob {
			want = append(want, op.Name)
		}
	}
	var got []string
	for _, e := range stacks.Table() {
		got = append(got, e.Operation)
		if e.Reason == "" || (e.Stack == stacks.None) != (len(e.Statuses) == 0) {
			t.Errorf("%s: %+v; want a reason, and statuses exactly when a stack changes", e.Operation, e)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("table has %v\nwant the job-starting operations %v", got, want)
	}
	for op, scope := range map[string]stacks.Scope{"CloneBackend": stacks.Target, "GenerateBackendAPIModels": stacks.None,
		"DeleteBackend": stacks.Own, "RemoveAllBackends": stacks.App, "UpdateBackendAPI": stacks.Own, "Unknown": stacks.None} {
		if e := stacks.Of(op); e.Stack != scope {
			t.Errorf("Of(%s) = %s; want %s", op, e.Stack, scope)
		}
	}
	if !stacks.Of("DeleteBackend").Settles("DELETE_COMPLETE") || stacks.Of("UpdateBackendAPI").Settles("DELETE_COMPLETE") {
		t.Error("Settles does not follow the table's statuses")
	}
}

// TestParseRootStack reads real-shaped stack names.
func TestParseRootStack(t *testing.T) {
	tests := map[string]struct{ project, env string }{
		"amplify-todoapp-dev-123456":             {"todoapp", "dev"},
		"amplify-myapp-preview-171820":           {"myapp", "preview"},
		"amplify-my-shop-staging-004211":         {"my-shop", "staging"},
		"amplify-demo2-prod-9":                   {"demo2", "prod"},
		"amplify-myapp-pr-42-123456":             {}, // pr-42 is no Amplify environment name
		"amplify-todoapp-dev-123456-apitodo-1AB": {}, // a nested stack
		"amplify-todoapp-Dev-123456":             {}, // upper case
		"amplify-todoapp-environment-123456":     {}, // 11 letters
		"my-service-prod-123":                    {}, // not Amplify
		"amplify-d1abc23-main-branch-6a1b2c3d4e": {}, // a Gen 2 branch stack: no root stack of an environment
	}
	for name, want := range tests {
		project, env, ok := stacks.ParseRootStack(name)
		if ok != (want.env != "") || project != want.project || env != want.env {
			t.Errorf("ParseRootStack(%q) = %q, %q, %v; want %q, %q", name, project, env, ok, want.project, want.env)
		}
	}
	for name, ok := range map[string]bool{"dev": true, "preview": true, "pr-42": false, "x": false, "development": false, "qa": true} {
		if stacks.EnvNamePattern.MatchString(name) != ok {
			t.Errorf("EnvNamePattern(%q) = %v; want %v", name, !ok, ok)
		}
	}
}
