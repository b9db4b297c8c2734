package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/state"
)

// The exit statuses of `submit --wait`.
const (
	exitCompleted   = 0
	exitFailed      = 1
	exitTimedOut    = 3 // TIMED_OUT or LOST
	exitWaitTimeout = 4 // --timeout passed first
	exitInterrupted = 130
)

// exitOf is the exit status a request's end gives.
func exitOf(status string) int {
	switch status {
	case contract.StatusCompleted:
		return exitCompleted
	case contract.StatusTimedOut, contract.StatusLost:
		return exitTimedOut
	}
	return exitFailed
}

// readEvery is how long to wait between reads of a request's record: a
// second or two at first, for the quick answers, then less often as the
// wait grows (a job may run for hours; each read is one GetItem or
// three).
func readEvery(waited time.Duration) time.Duration {
	switch {
	case waited < time.Minute:
		return 2 * time.Second
	case waited < 10*time.Minute:
		return 5 * time.Second
	}
	return 15 * time.Second
}

// unseenHint is how long a request may go unrecorded before the user is
// told where to look.
const unseenHint = time.Minute

// liveness is how often a running job's progress is repeated on stderr,
// so that a CI log shows the wait is alive.
const liveness = 5 * time.Minute

// waitFor follows a request in the state table until it ends, telling
// its progress on stderr, and returns the exit status as an *exitError
// (nil for COMPLETED). Reads that fail are retried until the timeout:
// an outage of DynamoDB or the network costs time, not the outcome.
func waitFor(ctx context.Context, view *state.View, requestID string, timeout time.Duration, asJSON bool, stdout, stderr io.Writer) error {
	start := time.Now()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	say := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%6s] %s: %s\n", age(time.Since(start)), requestID, fmt.Sprintf(format, args...))
	}
	var last progress
	hinted, lastErr := false, ""
	for {
		e, err := view.Follow(ctx, requestID)
		switch {
		case ctx.Err() != nil:
			return stopped(ctx, requestID, last, timeout)
		case err != nil:
			if msg := firstLine(err); msg != lastErr {
				say("reading its record failed, trying again: %s", msg)
				lastErr = msg
			}
		case e == nil:
			if !hinted && time.Since(start) > unseenHint {
				say("not received yet after %s: is the stack's submit function running ('jobwatch local start' locally)? "+
					"A request the bus's rule cannot deliver goes to the JobRequestRuleDeadLetterQueue", age(time.Since(start)))
				hinted = true
			}
		default:
			lastErr = ""
			now := progressOf(e)
			if msg := now.news(last, time.Since(start)); msg != "" {
				say("%s", msg)
			}
			last = now
			if e.Ended() {
				return ended(e, asJSON, stdout)
			}
		}
		t := time.NewTimer(readEvery(time.Since(start)))
		select {
		case <-ctx.Done():
			t.Stop()
			return stopped(ctx, requestID, last, timeout)
		case <-t.C:
		}
	}
}

// progress is what `submit --wait` tells of a request.
type progress struct {
	entry  *state.Entry
	toldAt time.Duration // when the running job's progress was last told
}

func progressOf(e *state.Entry) progress { return progress{entry: e} }

// news is what changed since last, as one line for stderr ("" when
// nothing did).
func (p *progress) news(last progress, waited time.Duration) string {
	e, before := p.entry, last.entry
	p.toldAt = last.toldAt
	same := before != nil && before.State == e.State
	switch e.State {
	case state.EntryStarting:
		if !same {
			return fmt.Sprintf("received; starting %s on %s/%s", e.Operation, e.AppID, e.BackendEnvironmentName)
		}
	case state.EntryWaiting:
		if !same || before.Position != e.Position {
			if e.Position == 0 {
				return fmt.Sprintf("waiting for %s/%s to be free", e.AppID, e.BackendEnvironmentName)
			}
			return fmt.Sprintf("waiting for %s/%s to be free, place %d of %d in line", e.AppID, e.BackendEnvironmentName, e.Position, e.Waiting)
		}
	case state.EntryRunning:
		if !same {
			p.toldAt = waited
			return fmt.Sprintf("RUNNING as job %s", e.JobID)
		}
		if waited-p.toldAt >= liveness {
			p.toldAt = waited
			return fmt.Sprintf("still RUNNING as job %s (%d lookups so far)", e.JobID, e.Lookups)
		}
	default:
		msg := e.State + took(e)
		if e.Error != "" {
			msg += ": " + e.Error
		}
		return msg
	}
	return ""
}

// ended prints the end of a request and returns its exit status.
func ended(e *state.Entry, asJSON bool, stdout io.Writer) error {
	if asJSON {
		var v any = e.Change
		if e.Change == nil { // an end without a recorded status change (an earlier version's record)
			v = e
		}
		if err := writeJSON(stdout, v); err != nil {
			return err
		}
	} else {
		line := fmt.Sprintf("%s %s on %s/%s", e.State, e.Operation, e.AppID, e.BackendEnvironmentName)
		if e.JobID != "" {
			line += ", job " + e.JobID
		}
		fmt.Fprintln(stdout, line+took(e))
	}
	if code := exitOf(e.State); code != exitCompleted {
		return &exitError{code: code, msg: fmt.Sprintf("jobwatch: request %s ended %s", e.RequestID, e.State)}
	}
	return nil
}

// stopped is the error of a wait that ended before the request: the
// timeout passed, or the user interrupted it. jobwatch goes on.
func stopped(ctx context.Context, requestID string, last progress, timeout time.Duration) error {
	where := "not received yet"
	if e := last.entry; e != nil {
		where = e.State
		if e.JobID != "" {
			where += " as job " + e.JobID
		}
	}
	msg := fmt.Sprintf("jobwatch: stopped waiting for request %s (%s); jobwatch keeps watching it: jobwatch jobs show %s", requestID, where, requestID)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &exitError{code: exitWaitTimeout, msg: fmt.Sprintf("%s (--timeout %s passed)", msg, timeout)}
	}
	return &exitError{code: exitInterrupted, msg: msg}
}

// took is how long the request's job ran, or it waited, as " after 4m10s"
// ("" for a request refused at once).
func took(e *state.Entry) string {
	c := e.Change
	if c == nil || e.JobID == "" && c.DurationSeconds < 1 {
		return ""
	}
	return " after " + age(time.Duration(c.DurationSeconds*float64(time.Second)))
}
