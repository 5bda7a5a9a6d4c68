package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/lib/pq"
)

// Terraform reads every resource of a plan in its own call, ten at a time. Read one by one,
// 64 servers and 64 user mappings are 128 queries, and as many concurrent calls make the
// pool open a connection each (a login, SCRAM included) for a query of a fraction of a
// millisecond. A Reader coalesces the reads that arrive together into one catalog query:
// a read waits for the query in flight, if any, and then goes with every other read that
// arrived meanwhile. Each read's answer comes from a query that started after the read was
// asked for, so nothing is cached and out-of-band changes are seen as before.

// Reader reads foreign servers and user mappings of one pool, coalescing concurrent reads.
type Reader struct {
	db       *sql.DB
	servers  coalescer[string, *Server]
	mappings coalescer[mappingKey, *UserMapping]

	mu          sync.Mutex
	currentUser string
}

// NewReader returns a Reader of db.
func NewReader(db *sql.DB) *Reader {
	r := &Reader{db: db}
	r.servers.read = readServers
	r.mappings.read = readUserMappings
	return r
}

// DB is the pool the Reader reads.
func (r *Reader) DB() *sql.DB { return r.db }

// Server is ReadServer, coalesced with the other reads of servers in flight.
func (r *Reader) Server(ctx context.Context, name string) (*Server, error) {
	s, err := r.servers.get(ctx, r.db, name)
	if err != nil {
		return nil, fmt.Errorf("reading foreign server %q: %w", name, err)
	}
	if s == nil {
		return nil, ErrNotFound
	}
	return s, nil
}

// UserMapping is ReadUserMapping, coalesced with the other reads of mappings in flight.
func (r *Reader) UserMapping(ctx context.Context, server, role string) (*UserMapping, error) {
	m, err := r.mappings.get(ctx, r.db, mappingKey{server, role})
	if err != nil {
		return nil, fmt.Errorf("reading user mapping for %q on server %q: %w", role, server, err)
	}
	if m == nil {
		return nil, ErrNotFound
	}
	return m, nil
}

// CurrentUser is the role the pool's sessions run as. The provider never changes a
// session's role, so it is asked once per pool.
func (r *Reader) CurrentUser(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.currentUser != "" {
		return r.currentUser, nil
	}
	u, err := queryCurrentUser(ctx, r.db)
	if err == nil {
		r.currentUser = u
	}
	return u, err
}

// coalescer runs read for the keys asked for while no read is in flight, and for all the
// keys asked for during a read right after it.
type coalescer[K comparable, V any] struct {
	read func(ctx context.Context, q Querier, keys []K) (map[K]V, error)

	mu      sync.Mutex
	running bool
	pending map[K][]waiter[V]
}

type waiter[V any] struct {
	ctx context.Context
	ch  chan result[V]
}

type result[V any] struct {
	v   V
	err error
}

// get returns the value of key (the zero value when read found none). A query that failed
// because another caller's context ended is asked again with this caller's.
func (c *coalescer[K, V]) get(ctx context.Context, q Querier, key K) (V, error) {
	for attempt := 1; ; attempt++ {
		v, err := c.getOnce(ctx, q, key)
		if err != nil && attempt < 3 && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue
		}
		return v, err
	}
}

func (c *coalescer[K, V]) getOnce(ctx context.Context, q Querier, key K) (V, error) {
	w := waiter[V]{ctx: ctx, ch: make(chan result[V], 1)}
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[K][]waiter[V]{}
	}
	c.pending[key] = append(c.pending[key], w)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		c.run(ctx, q)
	}
	select {
	case r := <-w.ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// run reads every pending key in one query, answers their waiters, and hands the keys
// that arrived meanwhile to a read of their own.
func (c *coalescer[K, V]) run(ctx context.Context, q Querier) {
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	keys := make([]K, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	values, err := c.read(ctx, q, keys)
	for k, ws := range batch {
		for _, w := range ws {
			w.ch <- result[V]{values[k], err}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		c.running = false
		return
	}
	// The next read runs with the context of one of its own waiters, not this one's,
	// whose call has its answer and may return.
	var next context.Context
	for _, ws := range c.pending {
		next = ws[0].ctx
		break
	}
	go c.run(next, q)
}

// readServers reads the servers of names; a name without a server is absent from the map.
func readServers(ctx context.Context, q Querier, names []string) (map[string]*Server, error) {
	rows, err := q.QueryContext(ctx, `
SELECT s.srvname, w.fdwname, pg_get_userbyid(s.srvowner), coalesce(s.srvoptions, '{}')
FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE s.srvname = ANY ($1::text[])`, pq.Array(names))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	servers := make(map[string]*Server, len(names))
	for rows.Next() {
		s := &Server{}
		var opts []string
		if err := rows.Scan(&s.Name, &s.Wrapper, &s.Owner, pq.Array(&opts)); err != nil {
			return nil, err
		}
		s.Options = parseOptionArray(opts)
		servers[s.Name] = s
	}
	return servers, rows.Err()
}

type mappingKey struct{ server, role string }

// readUserMappings reads the mappings of keys, as ReadUserMapping reads one; a key without
// a mapping is absent from the map.
func readUserMappings(ctx context.Context, q Querier, keys []mappingKey) (map[mappingKey]*UserMapping, error) {
	servers, roles, public := make([]string, len(keys)), make([]string, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		servers[i], roles[i], public[i] = k.server, k.role, k.role == PublicRole
	}
	rows, err := q.QueryContext(ctx, `
SELECT k.i, coalesce(m.umoptions, '{}'),
       (m.umuser <> 0 AND m.usename = current_user
          AND (pg_has_role(s.srvowner, 'USAGE') OR has_server_privilege(s.oid, 'USAGE')))
       OR (m.umuser = 0 AND pg_has_role(s.srvowner, 'USAGE'))
       OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
FROM unnest($1::text[], $2::text[], $3::bool[]) WITH ORDINALITY AS k(srvname, role, public, i)
JOIN pg_user_mappings m ON m.srvname = k.srvname
  AND CASE WHEN k.public THEN m.umuser = 0 ELSE m.umuser <> 0 AND m.usename = k.role END
JOIN pg_foreign_server s ON s.oid = m.srvid`, pq.Array(servers), pq.Array(roles), pq.Array(public))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	mappings := make(map[mappingKey]*UserMapping, len(keys))
	for rows.Next() {
		var i int
		var opts []string
		var visible bool
		if err := rows.Scan(&i, pq.Array(&opts), &visible); err != nil {
			return nil, err
		}
		if i < 1 || i > len(keys) {
			return nil, fmt.Errorf("unexpected mapping index %d", i)
		}
		k := keys[i-1]
		mappings[k] = &UserMapping{Server: k.server, Role: k.role, Options: parseOptionArray(opts), OptionsVisible: visible}
	}
	return mappings, rows.Err()
}
