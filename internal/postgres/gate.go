package postgres

import (
	"context"
	"sync"
	"time"
)

// A new connection costs a TCP handshake, a server process and a login (SCRAM: several
// round trips and a key derivation on each side), milliseconds where most of the
// provider's statements take a fraction of one; a Terraform run starts ten operations at
// once and each would open a connection of its own. The gate of a pool admits an operation
// at once when a connection is free, and otherwise lets it wait a moment for one to be
// released before it opens another: one connection at a time, and only while the
// operations keep every open connection busy. The pool's cap (max_connections) is
// unchanged; only how fast the pool grows to it is.

// growAfter is how long an operation waits for a busy connection before it may open one.
const growAfter = 5 * time.Millisecond

// gate counts the operations in flight on a pool and its connections.
type gate struct {
	mu         sync.Mutex
	busy       int // operations admitted and not yet released
	open       int // connections open
	connecting int // connection attempts in flight
	changed    chan struct{}
}

func newGate() *gate { return &gate{changed: make(chan struct{})} }

// signal wakes every waiter; mu must be held.
func (g *gate) signal() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// enter waits until the operation may run, and returns the function that ends it.
func (g *gate) enter(ctx context.Context) (release func(), err error) {
	start := time.Now()
	for {
		g.mu.Lock()
		waited := time.Since(start)
		if g.busy < g.open || g.busy == 0 || g.connecting == 0 && waited >= growAfter {
			g.busy++
			g.mu.Unlock()
			var once sync.Once
			return func() { once.Do(g.leave) }, nil
		}
		changed := g.changed
		// Until growAfter, wake up to open a connection then; after it, a connection
		// attempt is in flight, and its end or a release wakes this one.
		wake := time.Duration(0)
		if waited < growAfter {
			wake = growAfter - waited
		}
		g.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if wake > 0 {
			t = time.NewTimer(wake)
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return func() {}, ctx.Err()
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (g *gate) leave() {
	g.mu.Lock()
	g.busy--
	g.signal()
	g.mu.Unlock()
}

// connectStart and connectDone bracket a connection attempt.
func (g *gate) connectStart() {
	g.mu.Lock()
	g.connecting++
	g.mu.Unlock()
}

func (g *gate) connectDone(ok bool) {
	g.mu.Lock()
	g.connecting--
	if ok {
		g.open++
	}
	g.signal()
	g.mu.Unlock()
}

// closed notes a connection closed.
func (g *gate) closed() {
	g.mu.Lock()
	g.open--
	g.signal()
	g.mu.Unlock()
}

// Enter admits one operation on the pool for cfg (see gate), waiting a moment when every
// connection the pool has is busy; release ends it. It fails only when ctx ends first.
func (p *Pools) Enter(ctx context.Context, cfg ConnConfig) (release func(), err error) {
	db, err := p.DB(cfg)
	if err != nil {
		return func() {}, err
	}
	p.mu.Lock()
	g := p.gates[db]
	p.mu.Unlock()
	if g == nil {
		return func() {}, nil
	}
	return g.enter(ctx)
}
