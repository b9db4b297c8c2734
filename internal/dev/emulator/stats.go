package emulator

import (
	"strconv"
	"sync"
)

// Stats counts the Admin API requests the emulator answered, per
// operation and outcome, and the jobs' statuses now: what a benchmark or a
// demo reads to count calls. Requests to /_emulator/ are not counted.
type Stats struct {
	Requests   int                       `json:"requests"`
	Operations map[string]OperationStats `json:"operations"`
	Jobs       JobStats                  `json:"jobs"`
}

// OperationStats counts one operation's requests by outcome: "200" for a
// success, "<status> <error code>" for an error, e.g.
// "429 TooManyRequestsException". Requests no route matched count under
// the operation "-".
type OperationStats struct {
	Calls    int            `json:"calls"`
	Outcomes map[string]int `json:"outcomes"`
}

type counters struct {
	mu  sync.Mutex
	all int
	ops map[string]map[string]int
}

func newCounters() *counters { return &counters{ops: map[string]map[string]int{}} }

func (c *counters) count(op string, status int, err *apiError) {
	outcome := strconv.Itoa(status)
	if err != nil {
		outcome += " " + err.code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all++
	if c.ops[op] == nil {
		c.ops[op] = map[string]int{}
	}
	c.ops[op][outcome]++
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Requests: c.all, Operations: map[string]OperationStats{}}
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
