// Package emulator stands in for the Amplify Admin API (amplifybackend):
// the service's 31 operations on their REST paths, with state, long-running
// jobs and the service's misbehaviour, for tests, demos and benchmarks.
//
// Real clients (this module's amplify client, boto3, the aws CLI) talk to
// it as to the service: REST-JSON with the model's paths, methods and wire
// names, requests SigV4-signed for amplifybackend (unsigned ones get 403
// MissingAuthenticationTokenException; the signature itself is not
// checked), errors as an HTTP status, an X-Amzn-ErrorType header and a
// JSON body {"message", "resourceType" or "limitType"}, and an
// x-amzn-RequestId header on every answer. Inputs are checked like the
// service does: a wrong JSON type, a missing required member, a value out
// of range or outside its enum is a 400 BadRequestException naming the
// member; a path no operation answers is a 404 UnknownOperationException.
//
// Run it in process with Start (tests) or as an http.Handler with New
// (`jobwatch emulator`).
//
// # State
//
// Apps hold backend environments; environments hold auth, API and storage
// resources by resource name. CreateBackend creates the app (if new) and
// the environment; CloneBackend copies an environment; DeleteBackend and
// RemoveAllBackends remove (RemoveAllBackends with cleanAmplifyApp removes
// the app too). Get* operations return what Create*, Update* and Import*
// wrote; Update* changes only the members it sets. ImportBackendAuth
// stores its resource under the user pool id, ImportBackendStorage under
// the bucket name, since their inputs name no resource. Any operation on
// an app or environment that does not exist is a 404 NotFoundException
// with resourceType App, BackendEnvironment, BackendAuth, BackendAPI,
// BackendStorage, BackendJob, Token or BackendConfig.
//
// A job-starting operation changes the state when it is accepted, so a
// client can read back what it wrote at once; the job's outcome is
// simulated on its own and a FAILED job rolls nothing back.
//
// # Jobs
//
// Jobs (see type Jobs) start RUNNING and end COMPLETED, or FAILED with an
// Error, when their duration has passed on the Clock; stuck jobs never
// end. Statuses are derived from the clock when read, and every random
// choice comes from one seed, so a run replays exactly and a simulation
// can run on virtual time. One job runs at a time per app and
// environment: another job-starting call there is refused with HTTP 400
// BadRequestException (or ValidationException, see Faults) and the
// message "There is already a pending job for the requested appId A and
// backendEnvironmentName E. Please wait for it to complete".
//
// RemoveAllBackends and CreateBackendConfig concern the whole app, not an
// environment: their job is app-wide. It waits until none of the app's
// environments has a running job and, while it runs, blocks them all. An
// app-wide job is read through GetBackendJob, UpdateBackendJob and
// ListBackendJobs under any environment name of the app (the path needs
// one), and reports that name as its backendEnvironmentName.
//
// Jobs outlive their environment, so that the job of DeleteBackend stays
// readable. ListBackendJobs lists newest first, maxResults 1-25 (default
// 25), filters jobId, operation and status; its nextToken is opaque (a
// token of another listing is a BadRequestException). UpdateBackendJob
// sets a job's operation and status: COMPLETED or FAILED ends the job and
// frees its environment; any other status holds the job in it.
//
// # Faults
//
// Faults make the emulator misbehave like the service: a share of jobs
// FAILED or stuck, a share of requests throttled (429
// TooManyRequestsException) or timed out before the operation ran (504
// GatewayTimeoutException), GetBackendJob answering NotFound for a while
// after a job starts, latency on every answer. They can change at run
// time.
//
// Two faults break what a client may assume:
//
//   - Lost answers (LostAnswerRate): a job-starting call is accepted, its
//     job starts (it holds the environment; GetBackendJob and
//     ListBackendJobs show it), and then the caller gets 504
//     GatewayTimeoutException after LostAnswerDelay instead of the job id.
//     A retry is refused as pending, by the caller's own job. Calls that
//     start no job, or are refused, are answered as usual.
//   - Outages (OutageAfter, OutageFor, on the Clock): while one lasts,
//     every Admin API request is answered 503 ServiceUnavailableException
//     (which aws-sdk-go-v2's and botocore's retryers retry) or, for
//     OutageDropRate of them, its connection is reset without an answer
//     (a transport error). Jobs go on running; the control endpoints stay
//     up. An outage set at run time is placed from that moment.
//
// Stats counts these under outcomes of their own (OutcomeLostAnswer,
// OutcomeOutage, OutcomeDropped) and lists the jobs whose answer was lost
// (Stats.LostAnswers), so that a test can check the fault happened and
// that its job was found.
//
// # Control endpoints
//
// Under /_emulator/, unsigned and free of faults:
//
//	GET  /_emulator/stats   Stats: requests per operation and outcome, job statuses, lost answers
//	GET  /_emulator/faults  the Faults in force, an outage as seen now
//	POST /_emulator/faults  change the faults the JSON object names, e.g.
//	                        {"throttleRate": 0.2, "latency": "150ms", "pendingErrorCode": "ValidationException"}
//	                        {"lostAnswerRate": 0.1, "lostAnswerDelay": "500ms"}
//	                        {"outageFor": "60s"}                        an outage from now, for 60 s
//	                        {"outageAfter": "5m", "outageFor": "2h"}    one from 5 min from now
//	                        {"outageDropRate": 0.3}                     reset 30% of connections during it
//	                        {"outageFor": "0s"}                         end it now
//
// Rates are from 0 to 1 and durations (strings like "1.5s") not negative;
// a bad value or an unknown name is a 400 that names it, and changes
// nothing.
//
// # State file
//
// A state file (Config.State, --state) preloads apps and environments:
//
//	{"apps": [{"appId": "d1abc23", "appName": "demo", "environments": ["dev", "staging"]}]}
//
// Unknown members, an empty or repeated appId and an empty or repeated
// environment name are errors. testdata/state.json is an example.
package emulator
