package lambdasim

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Pool runs a function's invocations on several execution environments,
// each a bootstrap under its own Runtime Interface Emulator (an emulator
// serves one invocation at a time), the way Lambda scales a function: an
// invocation takes a free environment, a new one is started while fewer
// than Max run, and beyond that the invocation waits for one to free up.
type Pool struct {
	cfg RIEConfig
	max int

	mu      sync.Mutex
	all     []*RIEFunction
	free    chan *RIEFunction
	starts  int // environments started or starting
	closed  bool
	changed chan struct{} // closed and replaced when an environment frees up or fails to start
}

// NewPool returns a pool of at most size environments running cfg; none
// is started until Warm or the first invocation.
func NewPool(cfg RIEConfig, size int) *Pool {
	size = max(size, 1)
	return &Pool{cfg: cfg, max: size, free: make(chan *RIEFunction, size), changed: make(chan struct{})}
}

// Name is the function's name.
func (p *Pool) Name() string { return p.cfg.Name }

// Warm starts environments until n run (at most the pool's size), so that
// the first invocations do not wait for an emulator to start.
func (p *Pool) Warm(ctx context.Context, n int) error {
	for range min(n, p.max) {
		f, err := p.startOne(ctx)
		if err != nil {
			return err
		}
		if f == nil {
			return nil // the pool is full
		}
		p.Put(f)
	}
	return nil
}

// startOne starts an environment unless the pool is full or closed (then
// it returns nil).
func (p *Pool) startOne(ctx context.Context) (*RIEFunction, error) {
	p.mu.Lock()
	if p.closed || p.starts >= p.max {
		p.mu.Unlock()
		return nil, nil
	}
	p.starts++
	p.mu.Unlock()
	f, err := StartRIE(ctx, p.cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.starts--
		p.signal()
		return nil, err
	}
	if p.closed {
		_ = f.Close()
		return nil, errors.New("pool closed")
	}
	p.all = append(p.all, f)
	return f, nil
}

// signal wakes the invocations waiting for an environment; p.mu is held.
func (p *Pool) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Take returns an environment for one invocation: a free one, a new one
// while the pool may grow, or the next to free up. Give it back with Put.
func (p *Pool) Take(ctx context.Context) (*RIEFunction, error) {
	for {
		select {
		case f := <-p.free:
			return f, nil
		default:
		}
		f, err := p.startOne(ctx)
		if err != nil || f != nil {
			return f, err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("invoke %s: the pool is closed", p.cfg.Name)
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case f := <-p.free:
			return f, nil
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("invoke %s: %w", p.cfg.Name, ctx.Err())
		}
	}
}

// Put gives an environment back after an invocation.
func (p *Pool) Put(f *RIEFunction) {
	p.free <- f // never blocks: the channel holds every environment
	p.mu.Lock()
	p.signal()
	p.mu.Unlock()
}

// Invoke implements Invoker on a free environment.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f, err := p.Take(ctx)
	if err != nil {
		return nil, err
	}
	defer p.Put(f)
	return f.Invoke(ctx, payload)
}

// Size is how many environments run.
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// Close stops every environment; invocations still waiting fail.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.all = nil
	p.signal()
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f.Close()
		}()
	}
	wg.Wait()
}
