package demo

import (
	"fmt"
	"io"
	"strings"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// progress shows the jobs' states: a table redrawn in place on a
// terminal, or a line per change otherwise.
type progress struct {
	out   io.Writer
	live  bool
	jobs  []*Job
	shown map[string]string // request id -> state last printed
	lines int               // lines of the last live table
	// slack and sns count the Slack posts and SNS messages shown.
	slack, sns int
}

// refresh reads the jobs' states from the emulator, as GetBackendJob would
// show them, for jobs not announced yet.
func (p *progress) refresh(emu *emulator.Server, byRequest map[string]*Job) {
	for _, j := range p.jobs {
		if j.Event != nil {
			continue
		}
		list, _ := emu.Jobs().List(AppID, j.Env, emulator.JobFilter{Operation: j.Operation}, 0, 1)
		switch {
		case len(list) > 0:
			j.JobID, j.Status = list[0].JobId, list[0].Status
		case busy(emu, j.Env):
			j.Status = "WAITING"
		}
	}
}

// busy reports whether a job runs on env.
func busy(emu *emulator.Server, env string) bool {
	return emu.Jobs().CanStart(AppID, env) != nil
}

var marks = map[string]string{
	contract.StatusCompleted: "✔", contract.StatusFailed: "✖", contract.StatusTimedOut: "⌛", contract.StatusLost: "?",
}

// announce prints a status-change event as it arrives.
func (p *progress) announce(j *Job) {
	ev := j.Event
	line := fmt.Sprintf("%s %-9s %-22s %s/%-9s job %s  ran %.1fs, announced %.1fs after it ended, %d lookups",
		marks[ev.Status], ev.Status, ev.Operation, ev.AppID, ev.BackendEnvironmentName, short(ev.JobID), ev.DurationSeconds, j.LagSeconds, ev.Polls)
	if ev.Error != "" {
		line += "\n    error: " + ev.Error
	}
	if p.live {
		p.clear()
	}
	fmt.Fprintln(p.out, "event: "+line)
	if p.live {
		p.lines = 0
		p.draw(false)
	}
}

// note prints what a notification channel received.
func (p *progress) note(channel, text string) {
	if channel == "slack" {
		p.slack++
	} else {
		p.sns++
	}
	if p.live {
		p.clear()
	}
	fmt.Fprintf(p.out, "%s: %s\n", channel, text)
	if p.live {
		p.draw(false)
	}
}

// draw shows the table (live) or the changes since the last call.
func (p *progress) draw(final bool) {
	if !p.live {
		if p.shown == nil {
			p.shown = map[string]string{}
		}
		for _, j := range p.jobs {
			state := j.Status + " " + j.JobID
			if j.Event == nil && p.shown[j.RequestID] != state && j.Status != "SUBMITTED" {
				fmt.Fprintf(p.out, "  %-22s %-9s %s%s\n", j.Operation, j.Env, j.Status, jobText(j.JobID))
			}
			p.shown[j.RequestID] = state
		}
		return
	}
	p.clear()
	var b strings.Builder
	fmt.Fprintf(&b, "  %-22s %-11s %-10s %s\n", "OPERATION", "ENV", "STATE", "JOB")
	for _, j := range p.jobs {
		fmt.Fprintf(&b, "  %-22s %-11s %-10s %s\n", j.Operation, j.Env, j.Status, short(j.JobID))
	}
	fmt.Fprint(p.out, b.String())
	p.lines = len(p.jobs) + 1
	if final {
		p.lines = 0
	}
}

// clear erases the last live table.
func (p *progress) clear() {
	for i := 0; i < p.lines; i++ {
		fmt.Fprint(p.out, "\033[1A\033[2K")
	}
	p.lines = 0
}

func jobText(id string) string {
	if id == "" {
		return ""
	}
	return " (job " + short(id) + ")"
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	if id == "" {
		return "-"
	}
	return id
}
