// Package state is the one owner of jobwatch's DynamoDB state table: every
// read and conditional write of it goes through a Store, and every kind of
// item is a typed Go value.
//
// The table has one string partition key, pk, and a TTL attribute,
// expiresAt (epoch seconds). Its key families:
//
//   - req#<requestId>: a Request, what became of a job request, so that a
//     repeated request is answered from it (see RequestState for its life);
//   - line#<appId>#<env>: a Line, the requests waiting for an environment
//     in arrival order, the wake-up scheduled for it, and the requests
//     starting a job there (start markers, which the sweep respects);
//   - job#<appId>#<env>#<jobId>: a job jobwatch tracks (state, source,
//     polls, first and last seen, its tracking message, the request it
//     was started for) and the claim of its tracker (ClaimJob: leased
//     until its tracking message is sent, so that a tracker that failed
//     in between is taken over);
//   - env#<appId>#<env>: the set of an environment's jobs still running;
//   - evt#<eventKey>#<sink>: a claim on delivering one status change to
//     one sink (the idempotency record of Powertools for AWS Lambda).
//
// Requests and lines are written with optimistic concurrency: each write
// is conditional on the revision that was read, and one helper (edit)
// runs every read-modify-write loop. A failed condition returns the item
// as it is (ReturnValuesOnConditionCheckFailure ALL_OLD), so a lost race
// costs no second read. Conditions, updates and projections are built
// with feature/dynamodb/expression, items encoded with attributevalue.
//
// A View reads the table for people and never writes: `jobwatch jobs`
// lists what it holds (Scan), `jobwatch jobs show` tells one request's
// timeline, and `jobwatch submit --wait` follows one request with
// GetItem alone, so that a CI role needs no more than that.
//
// Each function's IAM policy grants only the DynamoDB actions its part of
// the store uses: submit requests and lines (GetItem, PutItem, DeleteItem)
// and claims jobs (UpdateItem); poll reads tracked jobs and records their
// ends (GetItem, BatchGetItem, UpdateItem); the sweep reads line summaries
// (GetItem) and claims and releases jobs (UpdateItem, DeleteItem); notify
// claims deliveries (PutItem, DeleteItem).
package state
