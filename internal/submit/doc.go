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
// # State table
//
// One DynamoDB table (partition key pk, a string) holds two kinds of item,
// both written with optimistic concurrency on a revision number:
//
//   - req#<requestId>: what became of a request, so that a retried or
//     repeated request is answered from it instead of starting a second
//     job: state new | waiting | submitted | failed | timedOut, the job id
//     and status, whether the tracking message was sent, a short lease
//     (lockToken, lockUntil) held while one invocation calls the Admin API
//     for the request, and expiresAt (epoch seconds) for DynamoDB TTL.
//   - line#<appId>#<env>: the requests waiting for that environment in
//     arrival order (entries: requestId, request {operation, input},
//     arrivedAt, deadline), and the wake-up that is scheduled for it
//     (wakeId, wakeAt), so that one chain of wake-ups serves a line.
//
// Inputs can hold secrets (an OAuth client secret): they are kept in the
// table while a request waits, and never logged.
package submit
