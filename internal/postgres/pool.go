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

// ConnConfig says where and how to connect. The zero Port means 5432.
type ConnConfig struct {
	Host     string
	Port     int
	Database string
	User     string
	Password string
	SSLMode  string
	// ConnectTimeout bounds how long a connection attempt keeps retrying a server that
	// refuses connections or is still starting up.
	ConnectTimeout time.Duration
	// MaxConnections caps the open connections of the pool for this target.
	MaxConnections int
}

// Target names the server without secrets, for error messages and logs.
func (c ConnConfig) Target() string {
	return fmt.Sprintf("host=%s port=%d database=%s user=%s", c.Host, c.port(), c.Database, c.User)
}

func (c ConnConfig) port() int {
	if c.Port == 0 {
		return 5432
	}
	return c.Port
}

// dsn renders a libpq key/value connection string with every value quoted.
func (c ConnConfig) dsn() string {
	kv := map[string]string{
		"host":             c.Host,
		"port":             strconv.Itoa(c.port()),
		"dbname":           c.Database,
		"user":             c.User,
		"password":         c.Password,
		"sslmode":          c.SSLMode,
		"application_name": "terraform-provider-pgshard",
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

// poolKey identifies a connection target; the password is part of it so that a changed
// password gets a new pool, but it is never printed.
func (c ConnConfig) poolKey() string {
	return c.dsn() + fmt.Sprintf(" #max=%d #timeout=%s", c.MaxConnections, c.ConnectTimeout)
}

// Pools holds one *sql.DB per connection target, opened lazily on first use and shared
// by every resource of one provider process.
type Pools struct {
	mu  sync.Mutex
	dbs map[string]*sql.DB
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
	db := sql.OpenDB(&retryConnector{inner: inner, cfg: cfg})
	maxConns := cfg.MaxConnections
	if maxConns <= 0 {
		maxConns = 8
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	p.dbs[key] = db
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
	timeout := r.cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
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
			return nil, &ConnectError{Target: r.cfg.Target(), Attempts: attempts, Err: err}
		}
		// The last wait ends at the deadline, so the whole of connect_timeout is used.
		select {
		case <-ctx.Done():
			return nil, &ConnectError{Target: r.cfg.Target(), Attempts: attempts, Err: ctx.Err()}
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
	Err      error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("could not connect to PostgreSQL (%s) after %d attempt(s): %v", e.Target, e.Attempts, e.Err)
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
