// Package soak runs jobwatch under load and faults on one machine and
// checks that nothing is lost or announced twice (GitHub issue 7): a
// thousand job requests through the real template on moto, the Admin API
// emulator throttling, timing out, hiding new jobs, failing and sticking
// jobs, duplicated requests and queue messages, and the poll function's
// runtime killed in the middle of a batch. Run is what `jobwatch soak`
// (make soak) and the end-to-end test run.
package soak
