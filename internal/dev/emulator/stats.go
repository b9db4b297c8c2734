package emulator

import (
	"fmt"
	"sync"
)

// Outcomes of the faults that a client cannot tell from another by the
// answer, or that have no answer; the others count as "<status> <code>".
const (
	// OutcomeLostAnswer counts job-starting calls whose job started but
	// whose answer was 504 GatewayTimeoutException (Faults.LostAnswerRate).
	OutcomeLostAnswer = "504 lost answer"
	// OutcomeOutage counts requests answered 503 during an outage.
	OutcomeOutage = "503 ServiceUnavailableException"
	// OutcomeDropped counts requests whose connection was dropped during
	// an outage (Faults.OutageDropRate).
	OutcomeDropped = "connection dropped"
)

// Stats counts the Admin API requests the emulator answered, per
// operation and outcome, and the jobs' statuses now: what a benchmark or a
// demo reads to count calls. Requests to /_emulator/ are not counted.
type Stats struct {
	Requests   int                       `json:"requests"`
	Operations map[string]OperationStats `json:"operations"`
	Jobs       JobStats                  `json:"jobs"`
	// LostAnswers are the jobs whose starting call was answered 504, in
	// the order they started: the jobs a caller has to find by itself.
	LostAnswers []LostAnswer `json:"lostAnswers"`
}

// OperationStats counts one operation's requests by outcome: "200" for a
// success, "<status> <error code>" for an error, e.g.
// "429 TooManyRequestsException", or one of the Outcome constants.
// Requests no route matched count under the operation "-".
type OperationStats struct {
	Calls    int            `json:"calls"`
	Outcomes map[string]int `json:"outcomes"`
}

// LostAnswer is a job whose starting call was answered 504
// GatewayTimeoutException. BackendEnvironmentName is empty for an
// app-wide job.
type LostAnswer struct {
	AppId                  string `json:"appId"`
	BackendEnvironmentName string `json:"backendEnvironmentName,omitempty"`
	JobId                  string `json:"jobId"`
	Operation              string `json:"operation"`
}

// Count returns how many requests, over all operations, had outcome.
func (s Stats) Count(outcome string) int {
	n := 0
	for _, op := range s.Operations {
		n += op.Outcomes[outcome]
	}
	return n
}

type counters struct {
	mu   sync.Mutex
	all  int
	ops  map[string]map[string]int
	lost []LostAnswer
}

func newCounters() *counters { return &counters{ops: map[string]map[string]int{}} }

func (c *counters) count(op, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all++
	if c.ops[op] == nil {
		c.ops[op] = map[string]int{}
	}
	c.ops[op][outcome]++
}

// lostAnswer records the job in out, the output of a job-starting
// operation whose answer is lost.
func (c *counters) lostAnswer(op string, out any) {
	l := LostAnswer{Operation: op}
	if err := roundTrip(out, &l); err != nil {
		panic(fmt.Sprintf("emulator: job of %s output %T: %v", op, out, err)) // job outputs have these members as strings
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost = append(c.lost, l)
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Requests: c.all, Operations: map[string]OperationStats{}, LostAnswers: append([]LostAnswer{}, c.lost...)}
	for op, outcomes := range c.ops {
		os := OperationStats{Outcomes: map[string]int{}}
		for k, n := range outcomes {
			os.Outcomes[k] = n
			os.Calls += n
		}
		s.Operations[op] = os
	}
	return s
}
