package postgres

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnitCoalescer: reads that arrive while one is in flight go together in the next
// query, each key once; every caller gets its own key's answer, from a query that started
// after it asked.
func TestUnitCoalescer(t *testing.T) {
	var queries atomic.Int32
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]string
	c := coalescer[string, string]{read: func(_ context.Context, _ Querier, keys []string) (map[string]string, error) {
		n := queries.Add(1)
		mu.Lock()
		batches = append(batches, append([]string(nil), keys...))
		mu.Unlock()
		if n == 1 {
			<-release // hold the first query until the others have queued
		}
		out := map[string]string{}
		for _, k := range keys {
			if k != "missing" {
				out[k] = "v:" + k
			}
		}
		return out, nil
	}}
	ctx := t.Context()
	first := make(chan string)
	go func() {
		v, _ := c.get(ctx, nil, "a")
		first <- v
	}()
	for queries.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	keys := []string{"b", "c", "b", "missing"}
	got := make([]string, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.get(ctx, nil, k)
			if err != nil {
				t.Errorf("get %q: %v", k, err)
			}
			got[i] = v
		}()
	}
	// Wait until the four are queued behind the first query, then let it finish.
	for {
		c.mu.Lock()
		n := 0
		for _, ws := range c.pending {
			n += len(ws)
		}
		c.mu.Unlock()
		if n == len(keys) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if v := <-first; v != "v:a" {
		t.Errorf("first read = %q", v)
	}
	wg.Wait()
	if want := []string{"v:b", "v:c", "v:b", ""}; !equalStrings(got, want) {
		t.Errorf("reads = %q, want %q", got, want)
	}
	if queries.Load() != 2 {
		t.Errorf("%d queries, want 2", queries.Load())
	}
	if len(batches) != 2 || len(batches[1]) != 3 {
		t.Errorf("batches = %q, want [a] then b, c, missing once each", batches)
	}
	if c.running {
		t.Error("coalescer still marked running")
	}
}

// TestUnitCoalescerError: a failed query fails every read of its batch, and the next read
// queries again.
func TestUnitCoalescerError(t *testing.T) {
	fail := errors.New("boom")
	calls := 0
	c := coalescer[string, int]{read: func(context.Context, Querier, []string) (map[string]int, error) {
		calls++
		if calls == 1 {
			return nil, fail
		}
		return map[string]int{"x": 1}, nil
	}}
	if _, err := c.get(t.Context(), nil, "x"); !errors.Is(err, fail) {
		t.Fatalf("first get: %v, want %v", err, fail)
	}
	if v, err := c.get(t.Context(), nil, "x"); err != nil || v != 1 {
		t.Fatalf("second get = %d, %v", v, err)
	}
}

// TestUnitGate: with one connection busy, a second operation waits for it rather than
// open another at once; after growAfter with no release, it may open one.
func TestUnitGate(t *testing.T) {
	g := newGate()
	ctx := t.Context()
	r1, err := g.enter(ctx) // nothing in flight: admitted
	if err != nil {
		t.Fatal(err)
	}
	g.connectStart()
	g.connectDone(true) // the first operation's connection

	admitted := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		r2, _ := g.enter(ctx)
		admitted <- time.Since(start)
		r2()
	}()
	time.Sleep(growAfter / 5)
	r1() // releases the connection: the waiter goes at once
	select {
	case d := <-admitted:
		if d >= growAfter {
			t.Errorf("second operation admitted after %s, want before growAfter (%s)", d, growAfter)
		}
	case <-time.After(time.Second):
		t.Fatal("second operation never admitted")
	}

	// All busy, nothing released: admitted after growAfter, to open a connection.
	r3, _ := g.enter(ctx)
	start = time.Now()
	r4, _ := g.enter(ctx)
	if d := time.Since(start); d < growAfter {
		t.Errorf("admitted after %s with the only connection busy, want at least %s", d, growAfter)
	}
	r3()
	r4()
	r4() // idempotent

	// A canceled context ends the wait.
	r5, _ := g.enter(ctx)
	g.connectStart() // an attempt in flight: no growth past growAfter
	cctx, cancel := context.WithTimeout(ctx, 3*growAfter)
	defer cancel()
	if _, err := g.enter(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("enter with a connect in flight and every connection busy: %v, want the context's deadline", err)
	}
	g.connectDone(false)
	r5()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy != 0 || g.open != 1 || g.connecting != 0 {
		t.Errorf("gate busy %d open %d connecting %d, want 0 1 0", g.busy, g.open, g.connecting)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReaderMatchesSingleReads: the coalesced reads of servers and user mappings (a role's
// and PUBLIC's, one missing) answer as ReadServer and ReadUserMapping do, read concurrently.
func TestReaderMatchesSingleReads(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	role := `we.ird"role`
	mustExec(t, db, `CREATE ROLE `+Ident(role))
	t.Cleanup(func() {
		mustExec(t, db, `DROP OWNED BY `+Ident(role))
		mustExec(t, db, `DROP ROLE `+Ident(role))
	})
	servers := []string{"s_a", `s"b`, "s_c"}
	for i, s := range servers {
		if err := CreateServer(ctx, db, Server{Name: s, Wrapper: "postgres_fdw", Options: map[string]string{"host": "h", "dbname": s}}); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := CreateUserMapping(ctx, db, UserMapping{Server: s, Role: role, Options: map[string]string{"user": "u" + s}}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			if err := CreateUserMapping(ctx, db, UserMapping{Server: s, Role: PublicRole, Options: map[string]string{"user": "pub"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := NewReader(db)
	var wg sync.WaitGroup
	for range 3 { // concurrently, so that reads share queries
		for _, s := range append(servers, "no_such_server") {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want, wantErr := ReadServer(ctx, db, s)
				got, err := r.Server(ctx, s)
				if errors.Is(err, ErrNotFound) != errors.Is(wantErr, ErrNotFound) || (err == nil) != (wantErr == nil) {
					t.Errorf("server %q: %v, want %v", s, err, wantErr)
				} else if err == nil && !reflect.DeepEqual(got, want) {
					t.Errorf("server %q: %+v, want %+v", s, got, want)
				}
				for _, role := range []string{role, PublicRole, "postgres"} {
					want, wantErr := ReadUserMapping(ctx, db, s, role)
					got, err := r.UserMapping(ctx, s, role)
					if errors.Is(err, ErrNotFound) != errors.Is(wantErr, ErrNotFound) || (err == nil) != (wantErr == nil) {
						t.Errorf("mapping %q/%q: %v, want %v", s, role, err, wantErr)
					} else if err == nil && !reflect.DeepEqual(got, want) {
						t.Errorf("mapping %q/%q: %+v, want %+v", s, role, got, want)
					}
				}
			}()
		}
	}
	wg.Wait()
	if u, err := r.CurrentUser(ctx); err != nil || u == "" {
		t.Errorf("CurrentUser = %q, %v", u, err)
	}
}
