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
// invocations from calling the Admin API for one request.
//
// # Starting a job exactly once
//
// Before its call, a request is marked as starting on its line (request
// id, operation, StartingAt): one request of an environment starts at a
// time, and the sweep leaves alone the jobs of that operation created
// since StartingAt less state.ClockSkew. The SDK retries a job-starting
// call on throttling only (ClientCall). An answer that does not say
// whether the job started — a 5xx, a 504, a timeout, a dropped connection,
// or a starting record whose holder is gone — makes the request
// Unanswered, and it is reconciled rather than called again: the
// environment's jobs of its operation created since StartingAt less the
// allowance are listed (ListBackendJobs), newest first, and the newest
// that no other request or tracker holds is claimed (its record in the
// state table then carries the request id) and adopted. The request calls
// again only when there is none and no job runs on the environment; it
// waits in line while another's job runs, and is put off while the lookup
// fails. The marker is dropped once the job is claimed, or once an answer
// says no job started. What remains: a job of the same operation that
// someone outside jobwatch started on the environment within the
// allowance before such a call, when the call itself started none, is
// taken for the request's.
//
// # Outages cost time
//
// A request the Admin API throttles beyond the SDK's retries, or does not
// answer, is recorded and waits in line ("Admin API unavailable"); the
// line's wake-ups try it again. A wake-up whose work fails for a while is
// answered by a fresh copy sent after an exponential backoff with jitter
// (queue.Backoff), its attempt counted, and the original is done; a line
// with requests always has one wake-up in flight, noted on the line and
// replaced — never cleared — until the line is empty. Only poison goes to
// a dead-letter queue: a malformed wake-up after the waiting queue's
// receives, and an EventBridge job request that can never run, sent at
// once to the submit-failures queue in Lambda's on-failure record format.
//
// # One tracking chain per job
//
// A started job's record (job#…) is claimed for its request before the
// tracking message is sent and marked sent after: a retry after a crash
// between the two sends again only if the send may not have happened, and
// a job another tracker holds keeps its tracker.
//
// Inputs can hold secrets (an OAuth client secret): they are kept in the
// table while a request waits, and never logged.
package submit
