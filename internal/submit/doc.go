// Package submit is the logic of the submit function: it validates a job
// request, starts the Admin API job and hands it to poll through the jobs
// queue, and keeps requests for a busy environment in a waiting line that
// wake-ups from the waiting queue move along, in arrival order.
//
// The core (Submitter.Submit, Submitter.Wake) knows no Lambda types; the
// Lambda adapter (Submitter.HandleLambda) tells the three payloads apart:
// an SQS batch from the waiting queue, an EventBridge "Amplify Backend Job
// Requested" event, or a bare job request.
//
// # A request's life
//
// Submit follows one request top down: validate it, take its record
// (req#<requestId> in the state table, see internal/state), then start its
// job or join its environment's line (line#<appId>#<env>), and send the
// job's tracking message. The record moves through the states
// state.RequestState names, each move a conditional write: received
// (leased to the invocation handling it), starting (recorded before each
// job-starting call), started, waiting, failed or timedOut; a request
// refused before it had a job or a place in line leaves no record. A
// repeated request id is answered from its record; the lease keeps two
// invocations from calling the Admin API for one request; a line has one
// chain of wake-ups.
//
// Inputs can hold secrets (an OAuth client secret): they are kept in the
// table while a request waits, and never logged.
package submit
