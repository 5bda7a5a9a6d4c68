package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// Querier is what the catalog and DDL functions need: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Connection defaults: this package owns them; a zero value in ConnConfig means the default.
const (
	DefaultHost           = "localhost"
	DefaultPort           = 5432
	DefaultDatabase       = "postgres"
	DefaultUser           = "postgres"
	DefaultSSLMode        = "prefer"
	DefaultConnectTimeout = 30 * time.Second
	// DefaultMaxConnections stays below Terraform's 10 parallel operations.
	DefaultMaxConnections = 8
	DefaultLockTimeout    = "30s"
)

// ConnConfig says where and how to connect. Zero values mean the defaults above.
type ConnConfig struct {
	Host     string
	Port     int
	Database string
	User     string
	Password string
	SSLMode  string
	// SSLRootCert, SSLCert and SSLKey are file paths, as libpq's sslrootcert (the CA that
	// verify-ca and verify-full check the server's certificate against), sslcert and sslkey
	// (a client certificate and its key). Empty means unset.
	SSLRootCert string
	SSLCert     string
	SSLKey      string
	// ConnectTimeout bounds how long a connection attempt keeps retrying a server that
	// refuses connections or is still starting up.
	ConnectTimeout time.Duration
	// MaxConnections caps the open connections of the pool for this target.
	MaxConnections int
	// LockTimeout is the lock_timeout of every session, in PostgreSQL's syntax ("30s",
	// "500ms", "0" waits forever).
	LockTimeout string
}

// WithDefaults fills the zero values with the defaults.
func (c ConnConfig) WithDefaults() ConnConfig {
	or := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	or(&c.Host, DefaultHost)
	or(&c.Database, DefaultDatabase)
	or(&c.User, DefaultUser)
	or(&c.SSLMode, DefaultSSLMode)
	or(&c.LockTimeout, DefaultLockTimeout)
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	return c
}

// Target names the server without secrets, for error messages and logs. The CA and
// client certificate paths are shown when set, since a certificate error depends on them.
func (c ConnConfig) Target() string {
	target := fmt.Sprintf("host=%s port=%d database=%s user=%s", c.Host, c.port(), c.Database, c.User)
	if c.SSLRootCert != "" {
		target += " sslrootcert=" + c.SSLRootCert
	}
	if c.SSLCert != "" {
		target += " sslcert=" + c.SSLCert
	}
	return target
}

// maxConnections is the pool's cap.
func (c ConnConfig) maxConnections() int { return c.WithDefaults().MaxConnections }

func (c ConnConfig) port() int { return c.WithDefaults().Port }

// dsn renders a libpq key/value connection string with every value quoted.
func (c ConnConfig) dsn() string {
	kv := map[string]string{
		"host":             c.Host,
		"port":             strconv.Itoa(c.port()),
		"dbname":           c.Database,
		"user":             c.User,
		"password":         c.Password,
		"sslmode":          c.SSLMode,
		"sslrootcert":      c.SSLRootCert,
		"sslcert":          c.SSLCert,
		"sslkey":           c.SSLKey,
		"application_name": "terraform-provider-pgshard",
		// lib/pq sends keys it does not know as run-time parameters of the startup packet,
		// so these hold for every statement of every session, before the first one runs.
		"lock_timeout": c.LockTimeout,
		// Settings a database or role gives its applications' sessions (pgshard_settings can
		// set them) must not stop the provider's: writing at all (or undoing that setting),
		// a move's long statements, a transaction held open across a shard's round trips.
		"default_transaction_read_only":       "off",
		"statement_timeout":                   "0",
		"idle_in_transaction_session_timeout": "0",
		// CheckExpression (types.go) and the bound parser (bound.go) end a '...' string at
		// the first quote that is not doubled, as the server does only with this on.
		"standard_conforming_strings": "on",
		// lib/pq then sends a statement with arguments as Parse, Bind, Describe, Execute and
		// Sync in one round trip, instead of a Parse/Describe round trip first. It is still
		// one prepared (unnamed) statement, so the server still refuses a second statement;
		// only []byte arguments, which no statement here binds, would go in binary.
		"binary_parameters": "yes",
	}
	if c.ConnectTimeout > 0 {
		// Per attempt; the retry loop below bounds the whole.
		secs := int(c.ConnectTimeout.Seconds())
		if secs < 2 {
			secs = 2
		}
		kv["connect_timeout"] = strconv.Itoa(secs)
	}
	keys := make([]string, 0, len(kv))
	for k, v := range kv {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := strings.ReplaceAll(kv[k], `\`, `\\`)
		v = strings.ReplaceAll(v, `'`, `\'`)
		parts = append(parts, k+"='"+v+"'")
	}
	return strings.Join(parts, " ")
}

// poolKey identifies a connection target; the password and the TLS file paths are part of
// it (through dsn) so that a changed password or certificate gets a new pool, but it is
// never printed.
func (c ConnConfig) poolKey() string {
	return c.dsn() + fmt.Sprintf(" #max=%d #timeout=%s", c.MaxConnections, c.ConnectTimeout)
}

// Pools holds one *sql.DB per connection target, opened lazily on first use and shared
// by every resource of one provider process.
type Pools struct {
	mu      sync.Mutex
	dbs     map[string]*sql.DB
	readers map[*sql.DB]*Reader
	gates   map[*sql.DB]*gate
}

// Reader returns the Reader of the pool for cfg (see DB), one per pool, so that the reads
// of every resource of the process are coalesced.
func (p *Pools) Reader(cfg ConnConfig) (*Reader, error) {
	db, err := p.DB(cfg)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readers == nil {
		p.readers = map[*sql.DB]*Reader{}
	}
	r, ok := p.readers[db]
	if !ok {
		r = NewReader(db)
		p.readers[db] = r
	}
	return r, nil
}

// NewPools returns an empty set of pools.
func NewPools() *Pools {
	return &Pools{dbs: map[string]*sql.DB{}}
}

// DB returns the pool for cfg, creating it when needed. It does not connect: connections
// are made when a query needs one.
func (p *Pools) DB(cfg ConnConfig) (*sql.DB, error) {
	key := cfg.poolKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	if db, ok := p.dbs[key]; ok {
		return db, nil
	}
	inner, err := pq.NewConnector(cfg.dsn())
	if err != nil {
		return nil, fmt.Errorf("invalid connection settings for %s: %w", cfg.Target(), err)
	}
	g := newGate()
	db := sql.OpenDB(oneStatementConnector{inner: &retryConnector{inner: inner, cfg: cfg}, gate: g})
	maxConns := cfg.maxConnections()
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	p.dbs[key] = db
	if p.gates == nil {
		p.gates = map[*sql.DB]*gate{}
	}
	p.gates[db] = g
	return db, nil
}

// Close closes every pool.
func (p *Pools) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, db := range p.dbs {
		errs = append(errs, db.Close())
		delete(p.dbs, k)
	}
	p.readers, p.gates = nil, nil
	return errors.Join(errs...)
}

// retryConnector retries connection attempts with backoff while the server refuses
// connections or says it is starting up, until the configured connect timeout.
type retryConnector struct {
	inner driver.Connector
	cfg   ConnConfig
}

func (r *retryConnector) Driver() driver.Driver { return r.inner.Driver() }

func (r *retryConnector) Connect(ctx context.Context) (driver.Conn, error) {
	timeout := r.cfg.WithDefaults().ConnectTimeout
	deadline := time.Now().Add(timeout)
	backoff := 100 * time.Millisecond
	attempts := 0
	for {
		attempts++
		conn, err := r.inner.Connect(ctx)
		if err == nil {
			return conn, nil
		}
		remaining := time.Until(deadline)
		if !retryable(err) || remaining <= 0 {
			return nil, &ConnectError{Target: r.cfg.Target(), Attempts: attempts, MaxConnections: r.cfg.maxConnections(), Err: err}
		}
		// The last wait ends at the deadline, so the whole of connect_timeout is used.
		select {
		case <-ctx.Done():
			return nil, &ConnectError{Target: r.cfg.Target(), Attempts: attempts, MaxConnections: r.cfg.maxConnections(), Err: ctx.Err()}
		case <-time.After(min(backoff, remaining)):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// ConnectError says which server could not be reached. It never holds the password.
type ConnectError struct {
	Target   string
	Attempts int
	// MaxConnections is the pool's cap, named when the server ran out of connection slots.
	MaxConnections int
	Err            error
}

func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("could not connect to PostgreSQL (%s) after %d attempt(s): %v", e.Target, e.Attempts, e.Err)
	if advice := e.NoSlotAdvice(); advice != "" {
		msg += ": " + advice
	}
	return msg
}

// NoSlotAdvice says what to do when the last attempt failed with 53300
// too_many_connections, and is empty otherwise. The three limits share the SQLSTATE and
// differ only in the message, which is English unless the server's lc_messages says
// otherwise; an unrecognised message is taken as the server's limit, the usual one.
func (e *ConnectError) NoSlotAdvice() string {
	pqErr := pq.As(e.Err, "53300")
	if pqErr == nil {
		return ""
	}
	pool := fmt.Sprintf("the provider opens up to max_connections = %d per database", e.MaxConnections)
	switch {
	case strings.Contains(pqErr.Message, "for role"):
		return "the role's CONNECTION LIMIT is reached; " + pool +
			": lower it in the provider block, or raise the role's limit (ALTER ROLE ... CONNECTION LIMIT) / close other sessions of the role"
	case strings.Contains(pqErr.Message, "for database"):
		return "the database's CONNECTION LIMIT is reached; " + pool +
			": lower it in the provider block, or raise the database's limit (ALTER DATABASE ... CONNECTION LIMIT) / close other sessions of the database"
	}
	return "the server has no free connection slot (its max_connections is reached); " + pool +
		": lower it in the provider block, or raise the server's max_connections / close other sessions"
}

func (e *ConnectError) Unwrap() error { return e.Err }

// retryable reports whether a failed connection attempt may succeed later: the server is
// not listening yet, is starting up or shutting down, or has too many connections.
func retryable(err error) bool {
	if pqErr := pq.As(err, "57P03", "53300"); pqErr != nil {
		return true // cannot_connect_now, too_many_connections
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	return false
}

// LockTimeoutError is a statement that gave up waiting for a lock (SQLSTATE 55P03
// lock_not_available), with the sessions that held locks in the database right after.
type LockTimeoutError struct {
	Err error
	// LockTimeout is the session's lock_timeout as the server shows it ("1s").
	LockTimeout string
	Holders     []LockHolder
}

func (e *LockTimeoutError) Error() string { return e.Err.Error() }

func (e *LockTimeoutError) Unwrap() error { return e.Err }

// LockHolder is another session holding locks on tables of the database.
type LockHolder struct {
	PID         int
	User        string
	Application string
	// State is pg_stat_activity's ("idle in transaction"); empty when the provider's role
	// may not see it, as are Open and Query.
	State string
	// Locks name each relation with the mode held: "public.tweets (AccessExclusiveLock)".
	Locks []string
	// Open is how long its transaction has been open.
	Open  time.Duration
	Query string
}

// String describes the holder in one line.
func (h LockHolder) String() string {
	about := []string{fmt.Sprintf("user %q", h.User), fmt.Sprintf("application %q", h.Application)}
	if h.State != "" {
		about = append(about, h.State)
	}
	if h.Open > 0 {
		about = append(about, "transaction open "+h.Open.Round(time.Second).String())
	}
	locks := h.Locks
	if len(locks) > 3 {
		locks = append(locks[:3:3], fmt.Sprintf("and %d more", len(h.Locks)-3))
	}
	s := fmt.Sprintf("pid %d (%s) holds %s", h.PID, strings.Join(about, ", "), strings.Join(locks, ", "))
	if h.Query != "" {
		s += "; its statement: " + h.Query
	}
	return s
}

// ExplainLockTimeout returns err as a *LockTimeoutError when it is 55P03
// lock_not_available, and err unchanged otherwise (or when the holders cannot be read); as
// a *ShardLockTimeoutError, naming the holders on the shard, when the wait was on a shard.
// It looks on a connection of db, so the failed transaction must have ended first.
func ExplainLockTimeout(ctx context.Context, db *sql.DB, err error) error {
	var explained *LockTimeoutError
	var shardExplained *ShardLockTimeoutError
	if pq.As(err, "55P03") == nil || errors.As(err, &explained) || errors.As(err, &shardExplained) {
		return err
	}
	// The explanation must not outlive the error it explains, nor wait long for a
	// connection of a busy pool.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if wait := (*shardLockWait)(nil); errors.As(err, &wait) {
		return explainShard(ctx, db, wait, err)
	}
	var timeout string
	if qerr := db.QueryRowContext(ctx, "SELECT current_setting('lock_timeout')").Scan(&timeout); qerr != nil {
		return err
	}
	holders, qerr := LockHolders(ctx, db)
	if qerr != nil {
		return err
	}
	return &LockTimeoutError{Err: err, LockTimeout: timeout, Holders: holders}
}

// LockHolders lists up to 5 other sessions, oldest transaction first, holding granted
// locks on tables of the current database. The lock a timed-out statement waited for is
// no longer in pg_locks, so every holder is a suspect; transactions younger than both a
// second and lock_timeout are left out, since they cannot have made anyone wait that long.
// Indexes, TOAST tables and system catalogs (OIDs below 16384) would only repeat a holder.
func LockHolders(ctx context.Context, q Querier) ([]LockHolder, error) {
	rows, err := q.QueryContext(ctx, lockHoldersQuery)
	if err != nil {
		return nil, err
	}
	return scanLockHolders(rows)
}

const lockHoldersQuery = `
SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),
       coalesce(extract(epoch FROM clock_timestamp() - a.xact_start), 0)::float8, coalesce(left(a.query, 1024), ''),
       array_agg(coalesce(quote_ident(n.nspname) || '.' || quote_ident(c.relname), l.relation::text) || ' (' || l.mode || ')'
                 ORDER BY l.relation, l.mode)
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation >= 16384 AND (c.oid IS NULL OR c.relkind NOT IN ('i', 'I', 't'))
  AND (a.xact_start IS NULL
       OR a.xact_start <= clock_timestamp() - least(interval '1 second', current_setting('lock_timeout')::interval))
GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, a.query
ORDER BY a.xact_start NULLS LAST, a.pid
LIMIT 5`

func scanLockHolders(rows *sql.Rows) ([]LockHolder, error) {
	defer rows.Close()
	var holders []LockHolder
	for rows.Next() {
		var h LockHolder
		var open float64
		if err := rows.Scan(&h.PID, &h.User, &h.Application, &h.State, &open, &h.Query, pq.Array(&h.Locks)); err != nil {
			return nil, err
		}
		h.Open = time.Duration(open * float64(time.Second))
		h.Query = statementGist(h.Query)
		holders = append(holders, h)
	}
	return holders, rows.Err()
}

// ShardLockTimeoutError is a change that stopped because a statement sent to a shard gave
// up waiting for a lock there (55P03 comes back through dblink), with the sessions that
// held locks on the shard right after, as LockHolders lists them. Err is the whole error.
type ShardLockTimeoutError struct {
	Server string
	Err    error
	// LockTimeout is the base session's lock_timeout, which the provider sets on the shard.
	LockTimeout string
	Holders     []LockHolder
}

func (e *ShardLockTimeoutError) Error() string {
	wait := "lock_timeout"
	if e.LockTimeout != "" {
		wait += " (" + e.LockTimeout + ")"
	}
	if len(e.Holders) == 0 {
		return fmt.Sprintf("%s; the provider waited %s on the shard behind server %q for a lock that another session held there, which had let go when the provider looked",
			e.Err, wait, e.Server)
	}
	holders := make([]string, len(e.Holders))
	for i, h := range e.Holders {
		holders[i] = h.String()
	}
	return fmt.Sprintf("%s; the provider waited %s on the shard behind server %q for a lock held there. Sessions holding locks in the shard's database: %s. "+
		"Finish or end that session's transaction on the shard (SELECT pg_terminate_backend(pid) there)", e.Err, wait, e.Server, strings.Join(holders, "; "))
}

func (e *ShardLockTimeoutError) Unwrap() error { return e.Err }

// shardLockWait marks a lock timeout that happened on the shard behind server, so that its
// explanation looks there (ShardSession.fail makes it).
type shardLockWait struct {
	server string
	err    error
}

func (e *shardLockWait) Error() string { return e.err.Error() }

func (e *shardLockWait) Unwrap() error { return e.err }

// explainShard reads the sessions holding locks on the shard of wait through a dblink
// connection of its own, from a session of db: the transaction that timed out must have
// ended first.
func explainShard(ctx context.Context, db *sql.DB, wait *shardLockWait, err error) error {
	explained := &ShardLockTimeoutError{Server: wait.server, Err: err}
	_ = withShardSession(ctx, db, wait.server, func(r *ShardSession) error {
		explained = explainShardOn(ctx, r, err)
		return nil
	})
	return explained
}

// explainShardOn reads the sessions holding locks on the shard through r, whose remote
// session must be out of the transaction that timed out.
func explainShardOn(ctx context.Context, r *ShardSession, err error) *ShardLockTimeoutError {
	explained := &ShardLockTimeoutError{Server: r.server, Err: err, LockTimeout: r.lockTimeout}
	rows, qerr := r.session().QueryContext(ctx, `SELECT * FROM `+r.dblink+`($1, $2) AS t(pid int, usename text, application_name text, state text, open float8, query text, locks text[])`,
		r.name, r.bounded(lockHoldersQuery))
	if qerr == nil {
		explained.Holders, _ = scanLockHolders(rows)
	}
	return explained
}

// statementGist shortens another session's statement for a diagnostic: on one line, at most
// 100 characters, and cut before its first string literal or dollar quote, so that a
// password in it (ALTER ROLE ... PASSWORD '...', OPTIONS (password '...')) is never shown.
func statementGist(query string) string {
	cut := len(query)
	for i := 0; i < len(query); i++ {
		if query[i] == '\'' || query[i] == '$' && (i+1 == len(query) || query[i+1] < '0' || query[i+1] > '9') {
			cut = i
			break
		}
	}
	gist, cutShort := strings.Join(strings.Fields(query[:cut]), " "), cut < len(query)
	if r := []rune(gist); len(r) > 100 {
		gist, cutShort = string(r[:100]), true
	}
	if cutShort {
		gist += " ..."
	}
	return gist
}
