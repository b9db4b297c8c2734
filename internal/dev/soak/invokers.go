package soak

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/lambdasim"
)

// runtime is one execution environment of a function: what an
// invocation runs on and what the soak kills. *lambdasim.RIEFunction is
// one.
type runtime interface {
	lambdasim.Invoker
	KillRuntime() error
}

// runtimes are a function's execution environments: an invocation takes
// one (waiting while none is free) and puts it back.
type runtimes interface {
	lambdasim.Invoker
	take(ctx context.Context) (runtime, error)
	put(runtime)
}

// poolRuntimes are the environments of a lambdasim pool.
type poolRuntimes struct{ *lambdasim.Pool }

func (p poolRuntimes) take(ctx context.Context) (runtime, error) { return p.Take(ctx) }

func (p poolRuntimes) put(r runtime) { p.Put(r.(*lambdasim.RIEFunction)) }

// batchSender is the part of the SQS client the injector uses.
type batchSender interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Injected counts the duplicates the soak injected.
type Injected struct {
	// Requests is how many job requests were put on the bus again with
	// the same requestId.
	Requests int
	// TrackingCopies and CompletionCopies are copies of jobs-queue and
	// completions-queue messages sent to the same queue.
	TrackingCopies, CompletionCopies int
	// Redelivered is how many completions-queue messages notify was
	// invoked with twice in a row (the batch delivered again, as after a
	// lost response).
	Redelivered int
}

// Total is every duplicate injected.
func (i Injected) Total() int {
	return i.Requests + i.TrackingCopies + i.CompletionCopies + i.Redelivered
}

// Kill is one poll runtime killed while it handled a batch.
type Kill struct {
	At time.Duration // since the run started
	// Requests are the request ids of the batch's tracking messages.
	Requests []string
}

// injector plays the faults the soak adds around the functions: copies
// of queue messages (SQS delivers at least once), a batch delivered twice,
// and poll's runtime killed in the middle of a batch. It is safe for
// concurrent use.
type injector struct {
	sqs   batchSender
	rate  float64 // share of batches whose messages are duplicated
	start time.Time

	mu       sync.Mutex
	rand     *rand.Rand
	injected Injected
	// armed is how many kills were asked for; killing is set while one is
	// tried.
	armed   int
	killing bool
	kills   []Kill
	// misses counts kills that came after the invocation had answered.
	misses int
}

func newInjector(c batchSender, rate float64, seed uint64) *injector {
	return &injector{sqs: c, rate: rate, rand: rand.New(rand.NewPCG(seed, 4)), start: time.Now()}
}

// uniform draws from [0, 1).
func (in *injector) uniform() float64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rand.Float64()
}

// chance draws whether something with probability p happens.
func (in *injector) chance(p float64) bool { return in.uniform() < p }

// intN draws from [0, n).
func (in *injector) intN(n int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rand.IntN(n)
}

// snapshot returns the counts so far.
func (in *injector) snapshot() (Injected, []Kill, int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.injected, append([]Kill(nil), in.kills...), in.misses
}

func (in *injector) count(f func(*Injected)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f(&in.injected)
}

// armKill asks for one more kill: the next poll batch of a few messages
// has its runtime killed while it works on it.
func (in *injector) armKill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed++
}

// takeKill reports whether this batch is to be killed (a kill is armed and
// the batch has several messages), and if so marks a kill in progress.
func (in *injector) takeKill(records int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.killing || len(in.kills) >= in.armed || records < 2 {
		return false
	}
	in.killing = true
	return true
}

// killDone records the outcome of a kill taken with takeKill.
func (in *injector) killDone(landed bool, requests []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.killing = false
	if !landed {
		in.misses++
		return
	}
	in.kills = append(in.kills, Kill{At: time.Since(in.start), Requests: requests})
}

// copyMessages sends copies of a few of bodies to queueURL, for a share
// of the batches, delayed by up to 5 s; it returns how many were sent. A
// failed send only means fewer duplicates.
func (in *injector) copyMessages(ctx context.Context, queueURL string, bodies []string) int {
	if len(bodies) == 0 || !in.chance(in.rate) {
		return 0
	}
	n := 1 + in.intN(min(3, len(bodies)))
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 0, n)
	for i := range n {
		body := bodies[in.intN(len(bodies))]
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
			MessageBody: aws.String(body), DelaySeconds: int32(in.intN(6))})
	}
	out, err := in.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
	if err != nil {
		return 0
	}
	return len(out.Successful)
}

// recordBodies reads the message bodies of an SQS event payload.
func recordBodies(payload []byte) []string {
	var ev events.SQSEvent
	if json.Unmarshal(payload, &ev) != nil {
		return nil
	}
	bodies := make([]string, len(ev.Records))
	for i, r := range ev.Records {
		bodies[i] = r.Body
	}
	return bodies
}

// pollInvoker is the poll function as the jobs queue's event source
// invokes it, with the soak's faults: copies of some tracking messages go
// back to the queue, and when a kill is armed the runtime handling a batch
// is killed a moment into it.
type pollInvoker struct {
	pool     runtimes
	in       *injector
	queueURL string
}

// Invoke implements lambdasim.Invoker.
func (p *pollInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	bodies := recordBodies(payload)
	if n := p.in.copyMessages(ctx, p.queueURL, bodies); n > 0 {
		p.in.count(func(i *Injected) { i.TrackingCopies += n })
	}
	if !p.in.takeKill(len(bodies)) {
		return p.pool.Invoke(ctx, payload)
	}
	e, err := p.pool.take(ctx)
	if err != nil {
		p.in.killDone(false, nil)
		return nil, err
	}
	defer p.pool.put(e)
	// A moment into the batch: the lookups and sends are under way (or,
	// for a quick batch, over: then the kill missed and another batch is
	// tried).
	delay := time.Duration(5+p.in.intN(75)) * time.Millisecond
	answered := make(chan struct{})
	killed := make(chan bool, 1)
	go func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			killed <- e.KillRuntime() == nil
		case <-answered:
			killed <- false
		}
	}()
	out, err := e.Invoke(ctx, payload)
	close(answered)
	// The kill landed if the invocation failed after it: the runtime was
	// working on the batch when it died.
	landed := <-killed && err != nil
	var requests []string
	if landed {
		for _, b := range bodies {
			if m, derr := contract.DecodeTrackingMessage([]byte(b)); derr == nil {
				requests = append(requests, m.RequestID)
			}
		}
	}
	p.in.killDone(landed, requests)
	return out, err
}

// notifyInvoker is the notify function as the completions queue's event
// source invokes it, with the soak's duplicates: copies of some
// completion messages go back to the queue, and some batches are invoked
// twice in a row, as when an invocation's response is lost and the batch
// is delivered again.
type notifyInvoker struct {
	pool     runtimes
	in       *injector
	queueURL string
}

// Invoke implements lambdasim.Invoker.
func (n *notifyInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	bodies := recordBodies(payload)
	if c := n.in.copyMessages(ctx, n.queueURL, bodies); c > 0 {
		n.in.count(func(i *Injected) { i.CompletionCopies += c })
	}
	if len(bodies) > 0 && n.in.chance(n.in.rate/2) {
		if _, err := n.pool.Invoke(ctx, payload); err == nil {
			n.in.count(func(i *Injected) { i.Redelivered += len(bodies) })
		}
	}
	return n.pool.Invoke(ctx, payload)
}
