// Package stacks says what each job-starting Admin API operation does to
// CloudFormation — which backend environment's root stack changes, and in
// which final statuses — and reads Amplify root stack names. poll uses it to
// apply a "CloudFormation Stack Status Change" to the jobs whose outcome that
// stack announces; the bench models push hints from the same table.
package stacks

import (
	"regexp"
	"slices"
)

// Scope is which root stack a job changes.
type Scope string

// The scopes: the job's own environment (BackendEnvironmentName), the
// environment a clone creates (TargetEnvironmentName), every environment of
// the app, or no stack at all.
const (
	Own    Scope = "own"
	Target Scope = "target"
	App    Scope = "app"
	None   Scope = "none"
)

// Effect is what an operation's job does to CloudFormation.
type Effect struct {
	Operation string
	Stack     Scope
	// Statuses are the final stack statuses the job's end can come with.
	Statuses []string
	// Reason is why, from the service's documentation of the operation.
	Reason string
}

// The final statuses of a stack created, updated or deleted.
var (
	created = []string{"CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}
	updated = []string{"UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"}
	deleted = []string{"DELETE_COMPLETE", "DELETE_FAILED"}
)

// resource is the reason shared by the operations on one category
// resource of an environment.
const resource = "a backend environment is one root stack with a nested stack per category resource (API, auth, storage); adding, changing, importing or removing a resource updates the environment's root stack"

// table is every job-starting operation (amplify.Operation.StartsJob) and
// its effect. "none" where the documentation gives no reason to expect a
// stack change.
var table = []Effect{
	{"CloneBackend", Target, created, "\"This operation clones an existing backend\": the clone is a new environment, TargetEnvironmentName, deployed as its own root stack; the source environment's stack does not change"},
	{"CreateBackend", Own, created, "\"This operation creates a backend for an Amplify app\": the environment BackendEnvironmentName is created as its root stack"},
	{"CreateBackendAPI", Own, updated, "\"Creates a new backend API resource\": " + resource},
	{"CreateBackendAuth", Own, updated, "\"Creates a new backend authentication resource\": " + resource},
	{"CreateBackendConfig", None, nil, "\"Creates a config object for a backend\": the Admin UI's configuration, no deployment of the environment"},
	{"CreateBackendStorage", Own, updated, "\"Creates a backend storage resource\": " + resource},
	{"DeleteBackend", Own, deleted, "\"Removes an existing environment from your Amplify project\": the environment's root stack is deleted"},
	{"DeleteBackendAPI", Own, updated, "\"Deletes an existing backend API resource\": " + resource},
	{"DeleteBackendAuth", Own, updated, "\"Deletes an existing backend authentication resource\": " + resource},
	{"DeleteBackendStorage", Own, updated, "\"Removes the specified backend storage resource\": " + resource},
	{"GenerateBackendAPIModels", None, nil, "\"Generates a model schema for an existing backend API resource\": code generation from the API's schema, nothing is deployed"},
	{"ImportBackendAuth", Own, updated, "\"Imports an existing backend authentication resource\": " + resource},
	{"ImportBackendStorage", Own, updated, "\"Imports an existing backend storage resource\": " + resource},
	{"RemoveAllBackends", App, deleted, "\"Removes all backend environments from your Amplify project\": every environment's root stack is deleted"},
	{"UpdateBackendAPI", Own, updated, "\"Updates an existing backend API resource\": " + resource},
	{"UpdateBackendAuth", Own, updated, "\"Updates an existing backend authentication resource\": " + resource},
	{"UpdateBackendStorage", Own, updated, "\"Updates an existing backend storage resource\": " + resource},
}

// Table returns every job-starting operation's effect, in name order.
func Table() []Effect { return slices.Clone(table) }

// Of returns the effect of an operation's job; an operation the table
// does not know (one the service added later, or "Unknown" for a job
// discovered without one) changes no stack as far as jobwatch knows.
func Of(operation string) Effect {
	for _, e := range table {
		if e.Operation == operation {
			return e
		}
	}
	return Effect{Operation: operation, Stack: None}
}

// Settles reports whether a stack ending in status can announce the end
// of a job with this effect.
func (e Effect) Settles(status string) bool { return slices.Contains(e.Statuses, status) }

// envName is Amplify's rule for a backend environment's name: 2 to 10
// lowercase letters (the Amplify CLI and the service refuse others).
const envName = `[a-z]{2,10}`

// EnvNamePattern matches a whole environment name.
var EnvNamePattern = regexp.MustCompile(`^` + envName + `$`)

// rootStack matches the root stack of an Amplify backend environment:
// amplify-<project name>-<environment>-<digits>. The environment has no
// hyphen and no digit, so the split is unambiguous; nested stacks
// (amplify-<project>-<env>-<digits>-<category>…-<id>) do not match.
var rootStack = regexp.MustCompile(`^amplify-([A-Za-z0-9][A-Za-z0-9-]*)-(` + envName + `)-([0-9]+)$`)

// ParseRootStack reads the project name and environment of an Amplify
// backend environment's root stack; ok is false for any other stack.
func ParseRootStack(name string) (project, env string, ok bool) {
	m := rootStack.FindStringSubmatch(name)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
