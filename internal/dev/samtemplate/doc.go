// Package samtemplate reads jobwatch's SAM template (template.yaml) into a
// model of the application — functions with their event sources, queues,
// buses, tables, topics, alarms — and resolves the template's intrinsic
// functions against the facts of a deployment, so that `jobwatch local` can
// recreate the resources and run the functions from the one description.
//
// Load parses with goformation (YAML short-form tags, CloudFormation resource
// types); the SAM function is read by this package because goformation's SAM
// model predates properties the template uses (ScalingConfig,
// FunctionResponseTypes, an EventBridge rule's RetryPolicy and
// DeadLetterConfig). Values that may hold intrinsic functions are kept as
// Expr, unresolved; a Resolver turns them into strings given Facts.
package samtemplate
