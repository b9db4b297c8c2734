package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/jobwatch/jobwatch/internal/state"
)

func init() {
	commands["jobs"] = command{"what jobwatch is watching: its requests and jobs, or one's timeline (jobs show ID)", runJobs}
}

const jobsUsage = `usage: jobwatch jobs [--local [--state FILE] | --stack NAME] [filters] [--json]
       jobwatch jobs show ID [--local [--state FILE] | --stack NAME] [--json]

Lists what jobwatch holds in its state table (requests and jobs, for 15
days after their end): one row per request, or per job the discovery
sweep found, with its state (STARTING, WAITING with its place in line,
RUNNING, COMPLETED, FAILED, TIMED_OUT, LOST), job id, age, lookups so far
and source. 'jobs show ID' (a request id or a job id) prints one timeline:
received, waited, started, each lookup, ended, and the sinks the status
changes were delivered to.

A deployed stack is read with the standard AWS credential chain
(dynamodb:Scan and GetItem on its table, cloudformation:DescribeStacks).

--state takes two kinds of value: a state to list (WAITING, RUNNING,
COMPLETED,FAILED, ... repeatable or comma-separated) or, with --local, the
local stack's state FILE (default .jobwatch/local.json).

flags:
`

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, jobsUsage); fs.PrintDefaults() }
	var t targetFlags
	t.add(fs)
	var filter state.Filter
	t.state = defaultStatePath
	fs.Func("state", "list the entries in `STATE` (repeatable; comma-separated), or with --local the state FILE", func(v string) error {
		states, ok := parseStates(v)
		if !ok {
			t.state = v
			return nil
		}
		filter.States = append(filter.States, states...)
		return nil
	})
	fs.StringVar(&filter.AppID, "app", "", "list the entries of app `ID`")
	fs.StringVar(&filter.Env, "env", "", "list the entries of backend environment `NAME`")
	asJSON := fs.Bool("json", false, "print JSON: an array of entries, or one timeline")
	positional, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	var showID string
	switch {
	case len(positional) == 0:
	case positional[0] == "show" && len(positional) == 2:
		showID = positional[1]
	case positional[0] == "show":
		return usagef("want one ID: jobwatch jobs show ID")
	default:
		return usagef("unexpected %q: jobwatch jobs [flags], or jobwatch jobs show ID", positional[0])
	}
	if !t.local && flagSet(fs, "state") && t.state != defaultStatePath {
		return usagef("--state %s: not a state (%s); a state FILE goes with --local", t.state, strings.Join(state.EntryStates, ", "))
	}
	d, err := t.resolve(ctx, true)
	if err != nil {
		return err
	}
	view := state.NewView(dynamodb.NewFromConfig(d.cfg), d.table)
	if showID != "" {
		return showTimeline(ctx, view, showID, *asJSON, stdout)
	}
	entries, err := view.Entries(ctx, filter)
	if err != nil {
		return d.userError(err)
	}
	if *asJSON {
		if entries == nil {
			entries = []state.Entry{}
		}
		return writeJSON(stdout, entries)
	}
	printEntries(stdout, entries, time.Now())
	return nil
}

// parseStates reads v as states to list; ok is false when it is not one
// (it is then the state file).
func parseStates(v string) (states []string, ok bool) {
	for s := range strings.SplitSeq(v, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if !slices.Contains(state.EntryStates, s) {
			return nil, false
		}
		states = append(states, s)
	}
	return states, true
}

func printEntries(w io.Writer, entries []state.Entry, now time.Time) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no requests or jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tAPP/ENV\tOPERATION\tSTATE\tJOB\tAGE\tLOOKUPS\tSOURCE")
	for _, e := range entries {
		st := e.State
		if e.Position > 0 {
			st = fmt.Sprintf("%s (%d of %d)", st, e.Position, e.Waiting)
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\t%d\t%s\n", dash(e.RequestID), e.AppID, e.BackendEnvironmentName, e.Operation,
			st, dash(e.JobID), age(now.Sub(e.Since)), e.Lookups, e.Source)
	}
	_ = tw.Flush()
}

func showTimeline(ctx context.Context, view *state.View, id string, asJSON bool, w io.Writer) error {
	t, err := view.Timeline(ctx, id)
	if errors.Is(err, state.ErrUnknownID) {
		return usagef("no request or job %q in the state table (it may be older than 15 days, or another stack's)", id)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, t)
	}
	if t.RequestID != "" {
		fmt.Fprintf(w, "request    %s\n", t.RequestID)
	}
	fmt.Fprintf(w, "operation  %s on %s/%s\n", t.Operation, t.AppID, t.BackendEnvironmentName)
	st := t.State
	if t.Position > 0 {
		st += fmt.Sprintf(", place %d of %d in line", t.Position, t.Waiting)
	}
	fmt.Fprintf(w, "state      %s\n", st)
	if t.JobID != "" {
		fmt.Fprintf(w, "job        %s (%s, %d lookups)\n", t.JobID, t.Source, t.Lookups)
	}
	if t.Error != "" {
		fmt.Fprintf(w, "error      %s\n", t.Error)
	}
	fmt.Fprintln(w)
	for _, e := range t.Events {
		fmt.Fprintf(w, "%s  %s\n", e.At.UTC().Format("2006-01-02 15:04:05Z"), e.What)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is a duration as people read an age: 42s, 5m10s, 3h20m, 2d4h.
func age(d time.Duration) string {
	switch d = max(d, 0); {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
