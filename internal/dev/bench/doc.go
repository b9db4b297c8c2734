// Package bench is `jobwatch bench`: a discrete-event simulation, on a
// virtual clock, of the whole pipeline (submit → jobs queue → poll →
// completions queue → notify) that runs the real poll code and scheduling
// policies against the Admin API emulator's job model, and counts what
// each policy costs (Admin API calls, Lambda invocations, SQS requests,
// dollars) and how late it notices that a job ended.
//
// Only the parts around poll are modelled: SQS queues and their event
// source mappings (sqs.go), the Admin API over emulator.Jobs (api.go),
// submit's waiting lines and notify (sim.go), CloudFormation hints
// (hint.go). Every invocation takes no virtual time; prices.go says what a
// second of each function is assumed to cost.
package bench
