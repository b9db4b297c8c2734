package poll

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/queue"
	"github.com/jobwatch/jobwatch/internal/schedule"
)

// TestOutageCostsTimeNotMessages runs a 2-hour Admin API outage (every
// call answered 503 or its connection reset) under the deployed settings:
// maxReceiveCount 5 on the jobs queue and a visibility timeout of 180 s
// (1 s real, 180 s on the virtual clock). The job's tracking message
// keeps cycling as fresh copies, each received once, nothing reaches the
// dead-letter queue, and the job, which ended during the outage, is
// announced within one backoff step (at most 5 minutes) of the API's
// return.
func TestOutageCostsTimeNotMessages(t *testing.T) {
	const outageAfter, outageFor = time.Minute, 2 * time.Hour
	s := newStack(t, 1, 30*time.Minute, 1, emulator.Faults{OutageAfter: outageAfter, OutageFor: outageFor, OutageDropRate: 0.3})
	p := s.poller(nil)
	s.send(1, s.startJob("dev0"))
	back := t0.Add(outageAfter + outageFor)
	cycles := 0
	for s.clock.Now().Before(back.Add(time.Hour)) {
		msgs := s.receive(s.jobs, 10)
		if len(msgs) == 0 {
			if s.depth(s.dlq) > 0 {
				break
			}
			s.clock.Advance(180 * time.Second) // a visibility timeout, on the virtual clock
			continue
		}
		for _, m := range msgs {
			if n := m.Attributes["ApproximateReceiveCount"]; n != "1" {
				t.Errorf("at %v a tracking message was received for the %s. time; want copies, each received once",
					s.clock.Now().Sub(t0), n)
			}
		}
		s.invoke(s.ctx, p, msgs)
		cycles++
		if changes := s.changes(); len(changes) > 0 {
			if len(changes) != 1 || changes[0].Status != "COMPLETED" {
				t.Fatalf("status changes %+v, want one COMPLETED", changes)
			}
			detected, _ := time.Parse(time.RFC3339, changes[0].DetectedAt)
			if late := detected.Sub(back); late < 0 || late > 5*time.Minute {
				t.Errorf("announced %v after the API came back; want within one backoff step, 5 min", late)
			}
			t.Logf("%d invocations; announced %v after the API came back", cycles, detected.Sub(back))
			break
		}
		s.clock.Advance(max(time.Second, slices.Max(append(s.virtual.take(), 0))))
	}
	if n := s.depth(s.dlq); n != 0 {
		t.Errorf("%d messages in the jobs dead-letter queue after the outage; want none", n)
	}
	if stats := s.emu.Stats(); stats.Count(emulator.OutcomeOutage) == 0 || stats.Count(emulator.OutcomeDropped) == 0 {
		t.Errorf("the outage did not happen: %+v", stats.Operations)
	}
	if cycles < 20 || s.clock.Now().Before(back) {
		t.Errorf("%d cycles up to %v; want the message cycling through the outage, ending after %v", cycles, s.clock.Now().Sub(t0), back.Sub(t0))
	}
}

// TestDuplicatesFollowOneChain sends the first tracking message of a job
// twice (SQS delivers at least once; submit or the sweep may send again
// after a crash), delivered one after the other and together in one
// batch: either way one message follows the job on.
func TestDuplicatesFollowOneChain(t *testing.T) {
	for name, batch := range map[string]int32{"one after the other": 1, "in one batch": 10} {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, 1, 30*time.Minute, 30, emulator.Faults{})
			p := s.poller(nil)
			s.send(2, s.startJob("dev0"))
			for range 2 {
				if msgs := s.receive(s.jobs, batch); len(msgs) > 0 {
					s.invoke(s.ctx, p, msgs)
				}
			}
			if left := s.drain(s.jobs); len(left) != 1 {
				t.Errorf("%d tracking messages follow the job on, want 1:\n%v", len(left), left)
			}
		})
	}
}

// TestStopsTakingItemsNearTheDeadline hands poll a batch of eight jobs
// whose lookups take a second each, with 2.5 s left before the safety
// margin before the invocation's deadline: it looks up what fits, hands
// the others back as copies, unchanged and not attempted, and answers in
// time with every message accounted for once.
func TestStopsTakingItemsNearTheDeadline(t *testing.T) {
	s := newStack(t, 8, 30*time.Minute, 30, emulator.Faults{})
	var sent []string
	for i := range 8 {
		m := s.startJob("dev" + string(rune('0'+i)))
		s.send(1, m)
		b, _ := queue.JSON(m, 0)
		sent = append(sent, b.Body)
	}
	if err := s.emu.SetFaults(emulator.Faults{Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	p := s.poller(func(c *Config) { c.Lookups, c.Policy = 1, schedule.Fixed{Interval: time.Minute} })
	var msgs = s.receive(s.jobs, 10)
	for len(msgs) < 8 {
		msgs = append(msgs, s.receive(s.jobs, 10)...)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 12500*time.Millisecond)
	defer cancel()
	resp := s.invoke(ctx, p, msgs)
	if deadline, _ := ctx.Deadline(); time.Until(deadline) < 5*time.Second {
		t.Errorf("answered %v before the deadline; want the margin kept", time.Until(deadline))
	}
	lookups := s.emu.Stats().Operations["GetBackendJob"].Calls + s.emu.Stats().Operations["ListBackendJobs"].Calls
	if lookups < 1 || lookups > 4 || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%d lookups, failures %v; want the few that fit, none failed", lookups, resp.BatchItemFailures)
	}
	next := s.drain(s.jobs)
	same := 0
	for _, b := range next {
		if slices.Contains(sent, b) {
			same++
		}
	}
	if len(next) != 8 || same != 8-lookups {
		t.Errorf("%d messages on the jobs queue, %d of them unchanged copies; want 8, of which %d handed back", len(next), same, 8-lookups)
	}
}

// TestStillRunningNoticeNotSent checks a STILL_RUNNING warning the
// completions queue did not take: the job's message goes on, still owing
// the warning, and the original is deleted, so that its redelivery starts
// no second chain; the next lookup sends the warning.
func TestStillRunningNoticeNotSent(t *testing.T) {
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.p.cfg.StillRunningAfter = 4 * time.Minute
	h.queue.reject = `"status":"STILL_RUNNING"`
	h.api.jobs["j"] = jobState{Status: "RUNNING", Operation: "CloneBackend"}
	res := h.p.Handle(context.Background(), []queue.Message{tracking("j", nil)})
	requeued := h.requeued(t)
	if len(res.Failed) != 0 || len(requeued) != 1 || len(h.changes(t)) != 0 {
		t.Fatalf("failed %v, %d re-queued, %d changes; want the message re-queued once and not left for redelivery",
			res.Failed, len(requeued), len(h.changes(t)))
	}
	next := decode(t, aws.ToString(requeued[0].MessageBody))
	if next.StillRunningSent {
		t.Fatal("the re-queued message says the warning went out")
	}
	h.queue.reject = ""
	b, _ := queue.JSON(next, 0)
	h.p.Handle(context.Background(), []queue.Message{{ID: "next", Body: b.Body}})
	if changes := h.changes(t); len(changes) != 1 || changes[0].Status != "STILL_RUNNING" {
		t.Errorf("after the next lookup: %+v; want the warning sent", changes)
	}
}

// TestPoisonParkedAtOnce checks malformed tracking messages go to the
// jobs dead-letter queue at once, with the problem named in an attribute,
// received once; the batch answers no failure and the good message goes
// on.
func TestPoisonParkedAtOnce(t *testing.T) {
	s := newStack(t, 1, 30*time.Minute, 30, emulator.Faults{})
	s.send(1, s.startJob("dev0"))
	bad := []queue.Outgoing{{Body: `{"v":1,`}, {Body: `{"v":1,"appId":"d1abc23","backendEnvironmentName":"dev0"}`}}
	if _, errs := queue.NewSender(s.sqs).Send(s.ctx, s.jobs, bad); errorsIn(errs) != nil {
		t.Fatal(errs)
	}
	msgs := s.receive(s.jobs, 10)
	for len(msgs) < 3 {
		msgs = append(msgs, s.receive(s.jobs, 10)...)
	}
	p := s.poller(func(c *Config) { c.DeadLetterQueueURL = s.dlq })
	if resp := s.invoke(s.ctx, p, msgs); len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures %v; want poison parked, not left for redelivery", resp.BatchItemFailures)
	}
	problems := map[string]string{}
	for _, m := range s.receive(s.dlq, 10) {
		problems[aws.ToString(m.Body)] = aws.ToString(m.MessageAttributes[queue.ProblemAttribute].StringValue)
	}
	for _, b := range bad {
		if p := problems[b.Body]; !strings.Contains(p, "tracking message") {
			t.Errorf("dead-letter queue: %q has problem %q; want it parked with the problem named", b.Body, p)
		}
	}
	if !strings.Contains(problems[bad[1].Body], `field "jobId" is required`) {
		t.Errorf("problem %q does not name the missing field", problems[bad[1].Body])
	}
	if next := s.drain(s.jobs); len(next) != 1 {
		t.Errorf("jobs queue: %v; want the good message's next one", next)
	}
}

// TestShortTimeoutStillGetsOn checks a function whose whole timeout is
// below the margin still gets on: the first lookup is made, the other
// messages handed back as unchanged copies, and the call is not cut
// before it could answer.
func TestShortTimeoutStillGetsOn(t *testing.T) {
	h := newHarness(schedule.Fixed{Interval: 10 * time.Second})
	h.p.cfg.Lookups = 1
	var msgs []queue.Message
	for _, env := range []string{"a", "b", "c"} {
		h.api.jobs["j"+env] = jobState{Status: "COMPLETED", Operation: "CloneBackend"}
		msgs = append(msgs, tracking("j"+env, func(m *contract.TrackingMessage) { m.BackendEnvironmentName = env }))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res := h.p.Handle(ctx, msgs)
	if res.Lookups != 1 || res.Completed != 1 || res.HandedBack != 2 || len(res.Failed) != 0 {
		t.Fatalf("result %+v; want one job looked up and announced, two handed back", res)
	}
	for _, e := range h.requeued(t) {
		if !slices.ContainsFunc(msgs, func(m queue.Message) bool { return m.Body == aws.ToString(e.MessageBody) }) || e.DelaySeconds != 0 {
			t.Errorf("handed back %s (delay %d); want an unchanged copy, at once", aws.ToString(e.MessageBody), e.DelaySeconds)
		}
	}
}

// TestOutageEndingNearTheDeadline: the Admin API is out from the first
// minute until half a minute before a stuck job's deadline, and each
// backoff draws its longest delay. The copy that failed last would come
// back minutes after the deadline; it comes back by the deadline instead,
// and the job's TIMED_OUT is announced on time.
func TestOutageEndingNearTheDeadline(t *testing.T) {
	const deadline = 30 * time.Minute
	s := newStack(t, 1, 3*time.Hour, 1, emulator.Faults{OutageAfter: time.Minute, OutageFor: deadline - time.Minute - 30*time.Second})
	p := s.poller(func(c *Config) { c.Retry = queue.Retry{Rand: func() float64 { return 0.999 }} })
	m := s.startJob("dev0")
	m.Deadline = t0.Add(deadline)
	s.send(1, m)
	for s.clock.Now().Before(t0.Add(2 * deadline)) {
		msgs := s.receive(s.jobs, 10)
		if len(msgs) == 0 {
			t.Fatalf("no tracking message at %v", s.clock.Now().Sub(t0))
		}
		s.invoke(s.ctx, p, msgs)
		if changes := s.changes(); len(changes) > 0 {
			if len(changes) != 1 || changes[0].Status != contract.StatusTimedOut {
				t.Fatalf("status changes %+v, want one TIMED_OUT", changes)
			}
			detected, _ := time.Parse(time.RFC3339, changes[0].DetectedAt)
			if late := detected.Sub(m.Deadline); late < 0 || late > 5*time.Second {
				t.Errorf("TIMED_OUT detected %v after the deadline; want at it", late)
			}
			return
		}
		s.clock.Advance(max(time.Second, slices.Max(append(s.virtual.take(), 0))))
	}
	t.Fatal("no status change")
}
