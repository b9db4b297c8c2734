package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobwatch/jobwatch/internal/stacks"
)

// Report is the outcome of a run: `jobwatch bench --json` prints it.
type Report struct {
	Workload WorkloadSummary `json:"workload"`
	Policies []PolicyResult  `json:"policies"`
	Targets  []Target        `json:"targets"`
	Prices   Prices          `json:"prices"`
	// Counted says what the per-job numbers count.
	Counted []string `json:"counted"`
}

// WorkloadSummary describes the workload of a report.
type WorkloadSummary struct {
	Jobs             int                `json:"jobs"`
	Sigma            float64            `json:"sigma"`
	Seed             uint64             `json:"seed"`
	Envs             int                `json:"envs"`
	Hours            float64            `json:"hours"`
	StuckRate        float64            `json:"stuckRate"`
	FailRate         float64            `json:"failRate"`
	MedianSeconds    map[string]float64 `json:"medianSeconds"`
	HintDelaySeconds float64            `json:"hintDelaySeconds"`
	HintShare        float64            `json:"hintShare"`
	// Hints says, per operation, which stack announces a job's end
	// (stacks.Of: own, target, app or none) and the share of its jobs whose
	// announcement reaches poll.
	Hints                    map[string]HintModel `json:"hints"`
	InitialPollDelaySeconds  float64              `json:"initialPollDelaySeconds"`
	NotFoundGraceSeconds     float64              `json:"notFoundGraceSeconds"`
	StillRunningAfterSeconds float64              `json:"stillRunningAfterSeconds"`
	DeadlineSeconds          float64              `json:"deadlineSeconds"`
	WaitRetryDelaySeconds    float64              `json:"waitRetryDelaySeconds"`
	Standard                 bool                 `json:"standard"`
}

// HintModel is how the jobs of one operation get push hints.
type HintModel struct {
	Stack stacks.Scope `json:"stack"`
	Share float64      `json:"share"`
}

func (w Workload) summary() WorkloadSummary {
	med := map[string]float64{}
	hints := map[string]HintModel{}
	for _, o := range w.Operations {
		med[o.Operation] = o.Median.Seconds()
		h := HintModel{Stack: stacks.Of(o.Operation).Stack}
		if h.Stack != stacks.None {
			h.Share = w.HintShare
		}
		hints[o.Operation] = h
	}
	std := Standard()
	std.Seed = w.Seed
	return WorkloadSummary{
		Jobs: w.Jobs, Sigma: w.Sigma, Seed: w.Seed, Envs: w.Envs, Hours: w.Hours, StuckRate: w.StuckRate,
		FailRate: w.FailRate, MedianSeconds: med, HintDelaySeconds: w.HintDelay.Seconds(), HintShare: w.HintShare, Hints: hints,
		InitialPollDelaySeconds: w.InitialPollDelay.Seconds(), NotFoundGraceSeconds: w.NotFoundGrace.Seconds(),
		StillRunningAfterSeconds: w.StillRunningAfter.Seconds(),
		DeadlineSeconds:          w.Deadline.Seconds(), WaitRetryDelaySeconds: w.WaitRetryDelay.Seconds(),
		Standard: w.isStandard(),
	}
}

// isStandard reports whether w is the standard workload (any seed).
func (w Workload) isStandard() bool {
	std := Standard()
	if len(w.Operations) != len(std.Operations) {
		return false
	}
	for i := range w.Operations {
		if w.Operations[i] != std.Operations[i] {
			return false
		}
	}
	w.Operations, std.Operations, std.Seed = nil, nil, w.Seed
	return fmt.Sprint(w) == fmt.Sprint(std)
}

// PolicyResult is what one policy cost and how late it was, per job of
// the workload.
type PolicyResult struct {
	Name                    string  `json:"name"`
	APICallsPerJob          float64 `json:"apiCallsPerJob"`
	LambdaInvocationsPerJob float64 `json:"lambdaInvocationsPerJob"`
	SQSRequestsPerJob       float64 `json:"sqsRequestsPerJob"`
	LagP50Seconds           float64 `json:"lagP50Seconds"`
	LagP95Seconds           float64 `json:"lagP95Seconds"`
	LagP99Seconds           float64 `json:"lagP99Seconds"`
	LagMaxSeconds           float64 `json:"lagMaxSeconds"`
	CostPer1000JobsUSD      float64 `json:"costPer1000JobsUSD"`
	// Operations splits the calls and the lag by operation.
	Operations map[string]OperationResult `json:"operations"`

	Hints bool `json:"hints"`
	// GetBackendJob and ListBackendJobs are poll's Admin API calls (the
	// hint path's included); PeakAPICallsPerSecond is the busiest second.
	GetBackendJob int `json:"getBackendJob"`
	// LookupsAfterEnd counts the GetBackendJob calls for a job whose
	// status change had been sent already: duplicate messages' lookups.
	LookupsAfterEnd       int `json:"lookupsAfterEnd"`
	ListBackendJobs       int `json:"listBackendJobs"`
	PeakAPICallsPerSecond int `json:"peakApiCallsPerSecond"`
	// SubmitAPICalls counts submit's job-producing calls, the ones the
	// service refused for a pending job included; the same for every
	// policy but for wake-up timing, and not in APICallsPerJob.
	SubmitAPICalls    int         `json:"submitApiCalls"`
	Invocations       Invocations `json:"invocations"`
	SQS               SQSRequests `json:"sqs"`
	EventBridgeEvents int         `json:"eventBridgeEvents"`
	Cost              Cost        `json:"cost"`
	Ended             Ended       `json:"ended"`
	// LaggedJobs is how many jobs the lag quantiles are over: those that
	// ended COMPLETED or FAILED.
	LaggedJobs int `json:"laggedJobs"`
	// Duplicates counts status changes sent again for a job that had
	// ended (consumers drop them by eventKey); DuplicateConflicts those of
	// them with another status; Mismatches first status changes that
	// contradict what the job did. The last two should be 0.
	Duplicates         int `json:"duplicates"`
	DuplicateConflicts int `json:"duplicateConflicts"`
	Mismatches         int `json:"mismatches"`
	// StillRunning counts the STILL_RUNNING warnings poll sent.
	StillRunning int `json:"stillRunning"`
	// StuckReleased counts stuck jobs cancelled after their TIMED_OUT.
	StuckReleased    int `json:"stuckReleased"`
	PollItemFailures int `json:"pollItemFailures"`
	HintErrors       int `json:"hintErrors"`
	// HintRequeues counts tracking messages the hint path re-queued: a
	// second chain of lookups for a job (should be 0).
	HintRequeues   int     `json:"hintRequeues"`
	SimulatedHours float64 `json:"simulatedHours"`

	wall time.Duration
}

// OperationResult is what one operation's jobs cost and how late their
// ends were announced.
type OperationResult struct {
	Jobs           int     `json:"jobs"`
	APICallsPerJob float64 `json:"apiCallsPerJob"`
	LagP95Seconds  float64 `json:"lagP95Seconds"`
	LagP99Seconds  float64 `json:"lagP99Seconds"`
}

// Invocations counts Lambda invocations by function.
type Invocations struct {
	Submit int `json:"submit"`
	Poll   int `json:"poll"`
	Notify int `json:"notify"`
	// Hint counts poll invocations by hint events.
	Hint int `json:"hint"`
}

func (i Invocations) total() int { return i.Submit + i.Poll + i.Notify + i.Hint }

// SQSRequests counts SQS requests over the three queues.
type SQSRequests struct {
	Send        int `json:"send"`
	Receive     int `json:"receive"`
	IdleReceive int `json:"idleReceive"`
	Delete      int `json:"delete"`
	// Billed is all of them as SQS bills them (64 KB chunks).
	Billed int `json:"billed"`
}

// Ended counts how the workload's requests ended: each exactly once.
type Ended struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// TimedOut includes TimedOutWaiting: requests that waited past the
	// wait deadline for their environment and never got a job.
	TimedOut        int `json:"timedOut"`
	TimedOutWaiting int `json:"timedOutWaiting"`
	Lost            int `json:"lost"`
	NotEnded        int `json:"notEnded"`
}

// Target is one of issue 8's goals and whether the run meets it.
type Target struct {
	Name   string `json:"name"`
	Goal   string `json:"goal"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// targets checks the goals whose policies are in the run. They are set
// for the standard workload; on another one they are only indicative.
func targets(w Workload, rs []PolicyResult) []Target {
	by := map[string]*PolicyResult{}
	for i := range rs {
		by[rs[i].Name] = &rs[i]
	}
	var out []Target
	if j, f := by["jobwatch"], by["fixed-10s"]; j != nil && f != nil {
		out = append(out, Target{
			Name: "jobwatch", Goal: "p95 lag ≤ fixed-10s's with ≤ 80 % of its API calls per job",
			Met: j.LagP95Seconds <= f.LagP95Seconds && j.APICallsPerJob <= 0.8*f.APICallsPerJob,
			Detail: fmt.Sprintf("p95 %.1f s vs %.1f s; %.2f vs %.2f calls/job (%.0f %%)",
				j.LagP95Seconds, f.LagP95Seconds, j.APICallsPerJob, f.APICallsPerJob, 100*j.APICallsPerJob/f.APICallsPerJob),
		})
	}
	if e, wt := by["jobwatch-economy"], by["waiter-2s-120s"]; e != nil && wt != nil {
		out = append(out, Target{
			Name: "jobwatch-economy", Goal: "API calls per job ≤ waiter-2s-120s's with p95 lag ≤ ⅓ of the waiter's",
			Met: e.APICallsPerJob <= wt.APICallsPerJob && e.LagP95Seconds <= wt.LagP95Seconds/3,
			Detail: fmt.Sprintf("%.2f vs %.2f calls/job; p95 %.1f s vs %.1f s (⅓: %.1f s)",
				e.APICallsPerJob, wt.APICallsPerJob, e.LagP95Seconds, wt.LagP95Seconds, wt.LagP95Seconds/3),
		})
	}
	if h := by[HintedPolicy]; h != nil {
		out = append(out, Target{
			Name: HintedPolicy, Goal: "p95 lag ≤ 10 s at ≤ 5 API calls per job, p99 ≤ 60 s, with hints only for the operations that change a stack",
			Met: h.LagP95Seconds <= 10 && h.APICallsPerJob <= 5 && h.LagP99Seconds <= 60,
			Detail: fmt.Sprintf("p95 %.1f s, p99 %.1f s at %.2f calls/job, of which %.2f look up jobs already seen to end",
				h.LagP95Seconds, h.LagP99Seconds, h.APICallsPerJob, float64(h.LookupsAfterEnd)/float64(w.Jobs)),
		})
	}
	if !w.isStandard() {
		for i := range out {
			out[i].Detail += " (targets are set for the standard workload)"
		}
	}
	return out
}

// counted explains the per-job numbers, for the table and the JSON.
func counted() []string {
	return []string{
		"per job: divided by the workload's job requests",
		"API calls: poll's GetBackendJob and ListBackendJobs, the first lookup, hint lookups and lookups of duplicate messages included; submit's job-producing calls are not (shown as submitApiCalls)",
		"Lambda invocations: submit (one per job request from EventBridge, one per waiting-queue batch), poll (one per jobs-queue batch, one per hint), notify (one per completions-queue batch)",
		fmt.Sprintf("SQS requests, billed per 64 KB: SendMessage/SendMessageBatch calls, one ReceiveMessage and one DeleteMessageBatch per delivered batch, and the idle long polls of Lambda's pollers: %d per mapping per %v on each of the 3 queues over the simulated span", esmPollers, esmLongPoll),
		"EventBridge: one custom event per job request and one per status change published (STILL_RUNNING warnings and duplicates included); CloudFormation hint events are AWS events, free",
		"lag: when poll sent the status change minus the job's UpdateTime, over the jobs that ended COMPLETED or FAILED (stuck jobs count for calls, not lag)",
		fmt.Sprintf("Lambda duration: %d MB arm64; assumed per invocation: poll %v, submit %v, notify %v", LambdaMemoryMB, PollInvocation, SubmitInvocation, NotifyInvocation),
		fmt.Sprintf("event source mappings: batch size %d, no batching window; a function takes no virtual time", esmBatchSize),
	}
}

// WriteTable writes the report as a readable table.
func (r *Report) WriteTable(out io.Writer) error {
	w := r.Workload
	var b strings.Builder
	fmt.Fprintf(&b, "jobwatch bench: %d jobs over %gh on %d environments, seed %d; durations lognormal σ=%g, medians %s; %g %% stuck (deadline %s); initial poll delay %gs\n\n",
		w.Jobs, w.Hours, w.Envs, w.Seed, w.Sigma, medians(r), 100*w.StuckRate, time.Duration(w.DeadlineSeconds*float64(time.Second)),
		w.InitialPollDelaySeconds)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tAPI calls/job\tpeak API/s\tLambda inv/job\tSQS req/job\tlag p50\tp95\tp99\tmax\t$/1000 jobs\t")
	for _, p := range r.Policies {
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%.2f\t%.2f\t%.1fs\t%.1fs\t%.1fs\t%.0fs\t%.4f\t\n", p.Name, p.APICallsPerJob, p.PeakAPICallsPerSecond,
			p.LambdaInvocationsPerJob, p.SQSRequestsPerJob, p.LagP50Seconds, p.LagP95Seconds, p.LagP99Seconds, p.LagMaxSeconds, p.CostPer1000JobsUSD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	for _, p := range r.Policies {
		e := p.Ended
		fmt.Fprintf(&b, "%s: %d completed, %d failed, %d timed out (%d waiting for their environment), %d lost; %d STILL_RUNNING warnings, %d duplicate status changes",
			p.Name, e.Completed, e.Failed, e.TimedOut, e.TimedOutWaiting, e.Lost, p.StillRunning, p.Duplicates)
		if p.Hints {
			fmt.Fprintf(&b, "; %d hints", p.Invocations.Hint)
		}
		fmt.Fprintf(&b, "; simulated %.1fh in %.1fs\n", p.SimulatedHours, p.wall.Seconds())
	}
	writeOperations(&b, r)
	if len(r.Targets) > 0 {
		b.WriteString("\ntargets:\n")
		for _, t := range r.Targets {
			verdict := "MET"
			if !t.Met {
				verdict = "MISSED"
			}
			fmt.Fprintf(&b, "  %-6s %s: %s — %s\n", verdict, t.Name, t.Goal, t.Detail)
		}
	}
	b.WriteString("\ncounted:\n")
	for _, c := range r.Counted {
		fmt.Fprintf(&b, "  - %s\n", c)
	}
	p := r.Prices
	fmt.Fprintf(&b, "\nprices (%s, list, %s): Lambda $%.2f per 1M requests + $%.10f per GB-s (arm64); SQS $%.2f per 1M requests (64 KB chunks); EventBridge $%.2f per 1M custom events; Admin API calls free but throttled\n",
		p.Region, p.Date, p.LambdaRequestUSD*1e6, p.LambdaArmGBSecondUSD, p.SQSRequestUSD*1e6, p.EventBridgeCustomEventUSD*1e6)
	_, err := io.WriteString(out, b.String())
	return err
}

func medians(r *Report) string {
	var parts []string
	for _, o := range Operations {
		if s, ok := r.Workload.MedianSeconds[o.Operation]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", o.Operation, time.Duration(s*float64(time.Second))))
		}
	}
	return strings.Join(parts, ", ")
}

// writeOperations writes each policy's calls and lag by operation, with
// the stack that announces each operation's jobs.
func writeOperations(b *strings.Builder, r *Report) {
	b.WriteString("\nby operation (API calls/job, lag p95, p99; the stack whose status change announces the end, and the share of its hints that arrive):\n")
	for _, o := range Operations {
		h, ok := r.Workload.Hints[o.Operation]
		if !ok {
			continue
		}
		fmt.Fprintf(b, "  %-24s stack %-6s share %.2f:", o.Operation, h.Stack, h.Share)
		for _, p := range r.Policies {
			if op, ok := p.Operations[o.Operation]; ok {
				fmt.Fprintf(b, "  %s %.2f, %.1fs, %.1fs;", p.Name, op.APICallsPerJob, op.LagP95Seconds, op.LagP99Seconds)
			}
		}
		b.WriteString("\n")
	}
}
