package soak

import (
	"errors"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/jobwatch/jobwatch/internal/contract"
)

// Sinks where the soak sees status changes arrive.
const (
	sinkBus   = "bus"
	sinkSNS   = "sns"
	sinkSlack = "slack"
)

// ledger counts what reached each sink, per event key, and which
// requests got a terminal status change on the bus. It is safe for
// concurrent use.
type ledger struct {
	mu sync.Mutex
	// seen counts deliveries per sink and event key.
	seen map[string]map[string]int
	// status is the status of each event key seen on the bus; jobless
	// marks those of requests that ended waiting, without a job.
	status  map[string]string
	jobless map[string]bool
	// terminal lists, per request id, the terminal event keys of the bus.
	terminal map[string][]string
	// started holds the requests whose terminal status change names a
	// job: the requests that got one.
	started map[string]bool
	// stillRunning counts STILL_RUNNING event keys on the bus.
	stillRunning int
	// unreadable counts deliveries whose event key could not be read.
	unreadable map[string]int
}

func newLedger() *ledger {
	return &ledger{seen: map[string]map[string]int{sinkBus: {}, sinkSNS: {}, sinkSlack: {}},
		status: map[string]string{}, jobless: map[string]bool{}, terminal: map[string][]string{}, started: map[string]bool{}, unreadable: map[string]int{}}
}

// busEvent records a status-change event (its detail) read from the bus.
func (l *ledger) busEvent(c contract.StatusChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.EventKey == "" {
		l.unreadable[sinkBus]++
		return
	}
	l.seen[sinkBus][c.EventKey]++
	if l.seen[sinkBus][c.EventKey] > 1 {
		return
	}
	l.status[c.EventKey] = c.Status
	l.jobless[c.EventKey] = c.JobID == ""
	switch {
	case contract.IsTerminal(c.Status):
		l.terminal[c.RequestID] = append(l.terminal[c.RequestID], c.EventKey)
		if c.JobID != "" && c.RequestID != "" {
			l.started[c.RequestID] = true
		}
	case c.Status == contract.StatusStillRunning:
		l.stillRunning++
	}
}

// snsKey reads the event key of an SNS notification's message (its
// "Event key:" line).
func snsKey(message string) (string, error) {
	for _, line := range strings.Split(message, "\n") {
		if k, ok := strings.CutPrefix(line, "Event key:"); ok {
			return strings.TrimSpace(k), nil
		}
	}
	return "", errors.New("no event key line in the SNS message")
}

// slackKeyRE finds the event key in a Slack post's context line.
var slackKeyRE = regexp.MustCompile("event key `([^`]+)`")

// slackKey reads the event key of a Slack post (its JSON body).
func slackKey(body []byte) (string, error) {
	m := slackKeyRE.FindSubmatch(body)
	if m == nil {
		return "", errors.New("no event key in the Slack post")
	}
	return string(m[1]), nil
}

// delivery records a message or post on another sink by its event key.
func (l *ledger) delivery(sink, key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || key == "" {
		l.unreadable[sink]++
		return
	}
	l.seen[sink][key]++
}

// terminalCount is how many of requests have a terminal event on the bus.
func (l *ledger) terminalCount(requests []request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range requests {
		if len(l.terminal[r.ID]) > 0 {
			n++
		}
	}
	return n
}

// startedTwice is how many more jobs the Admin API started than requests
// got one: jobs started a second time for a request (a lost answer retried
// blindly), whether or not anyone announced them.
func (l *ledger) startedTwice(created int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(0, created-len(l.started))
}

// deliveries is how many deliveries a sink had.
func (l *ledger) deliveries(sink string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.seen[sink] {
		n += c
	}
	return n
}

// audit is what the ledger says about a run.
type audit struct {
	terminal, lost int
	outcomes       map[string]int
	// jobless counts the requests that ended without a job (their wait
	// timed out).
	jobless      int
	stillRunning int
	// duplicates counts, per sink, the deliveries beyond the first of an
	// event key.
	duplicates map[string]int
	// duplicateKeys lists some event keys delivered more than once.
	duplicateKeys []string
	// conflicts lists requests with more than one terminal event key
	// (e.g. a job COMPLETED and its request TIMED_OUT waiting).
	conflicts []string
	// missing counts bus event keys a sink should have had and did not.
	missing map[string]int
	// lostRequests lists some requests without a terminal event.
	lostRequests []string
	strangers    []string
	unreadable   map[string]int
}

// audit checks the ledger against the requests submitted. routed tells
// whether a sink takes a status (the stack's SnsStatuses, SlackStatuses).
func (l *ledger) audit(requests []request, routed func(sink, status string) bool) audit {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := audit{outcomes: map[string]int{}, stillRunning: l.stillRunning, duplicates: map[string]int{},
		missing: map[string]int{}, unreadable: map[string]int{}}
	for _, r := range requests {
		keys := l.terminal[r.ID]
		if len(keys) == 0 {
			a.lost++
			if len(a.lostRequests) < 10 {
				a.lostRequests = append(a.lostRequests, r.ID)
			}
			continue
		}
		a.terminal++
		a.outcomes[l.status[keys[0]]]++
		if l.jobless[keys[0]] {
			a.jobless++
		}
		if len(keys) > 1 {
			a.conflicts = append(a.conflicts, r.ID+" ("+strings.Join(keys, ", ")+")")
		}
	}
	submitted := map[string]bool{}
	for _, r := range requests {
		submitted[r.ID] = true
	}
	for id, keys := range l.terminal {
		if !submitted[id] {
			a.strangers = append(a.strangers, keys...)
		}
	}
	for _, sink := range []string{sinkBus, sinkSNS, sinkSlack} {
		for key, n := range l.seen[sink] {
			if n > 1 {
				a.duplicates[sink] += n - 1
				if len(a.duplicateKeys) < 10 {
					a.duplicateKeys = append(a.duplicateKeys, sink+" "+key)
				}
			}
		}
		if sink != sinkBus {
			for key, status := range l.status {
				if routed(sink, status) && l.seen[sink][key] == 0 {
					a.missing[sink]++
				}
			}
		}
		if n := l.unreadable[sink]; n > 0 {
			a.unreadable[sink] = n
		}
	}
	sort.Strings(a.duplicateKeys)
	sort.Strings(a.conflicts)
	sort.Strings(a.strangers)
	return a
}

// totalDuplicates is the deliveries beyond the first of an event key, on
// every sink.
func (a audit) totalDuplicates() int {
	n := 0
	for _, d := range a.duplicates {
		n += d
	}
	return n
}
