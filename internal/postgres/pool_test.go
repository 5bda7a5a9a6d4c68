package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func clusterConfig(c *postgrestest.Cluster, timeout time.Duration) ConnConfig {
	return ConnConfig{Host: c.Host, Port: c.Port, Database: "postgres", User: c.User, Password: c.Password,
		SSLMode: "disable", ConnectTimeout: timeout, MaxConnections: 2}
}

// A server that is down when the first query runs is retried until it comes up.
func TestPoolRetriesUntilServerStarts(t *testing.T) {
	shard := postgrestest.Shared(t).Shard2
	if err := shard.StopServer(); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		started <- shard.StartServer(t.Context())
	}()
	pools := NewPools()
	defer pools.Close()
	db, err := pools.DB(clusterConfig(shard, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	var one int
	if err := db.QueryRowContext(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query after restart: %v", err)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(begin); waited < time.Second {
		t.Fatalf("query returned after %s, before the server was started", waited)
	}
}

// A server that never comes up fails after connect_timeout with a message naming the
// target but never the password.
func TestPoolConnectTimeout(t *testing.T) {
	shard := postgrestest.Shared(t).Shard2
	cfg := clusterConfig(shard, 2*time.Second)
	cfg.Port = 1 // nothing listens there
	pools := NewPools()
	defer pools.Close()
	db, err := pools.DB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	err = db.PingContext(t.Context())
	elapsed := time.Since(begin)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want a ConnectError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"host=127.0.0.1", "port=1", "database=postgres", "user=postgres"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, shard.Password) {
		t.Fatalf("error leaks the password: %s", msg)
	}
	if elapsed < 2*time.Second || elapsed > 10*time.Second {
		t.Fatalf("gave up after %s, want about the 2s connect_timeout", elapsed)
	}
}

// Every query of one target shares one pool, and it never opens more than MaxConnections.
func TestPoolSharedAndBounded(t *testing.T) {
	base := postgrestest.Shared(t).Base
	pools := NewPools()
	defer pools.Close()
	cfg := clusterConfig(base, 10*time.Second)
	a, _ := pools.DB(cfg)
	b, _ := pools.DB(cfg)
	if a != b {
		t.Fatal("same target should share one pool")
	}
	ctx := t.Context()
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func() {
			_, err := a.ExecContext(ctx, "SELECT pg_sleep(0.05)")
			errs <- err
		}()
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if open := a.Stats().MaxOpenConnections; open != 2 {
		t.Fatalf("MaxOpenConnections = %d", open)
	}
	if opened := a.Stats().OpenConnections; opened > 2 || opened < 1 {
		t.Fatalf("pool holds %d connections, want 1..2 kept idle", opened)
	}
}

// Every session of the pool starts with the provider's lock_timeout and with
// standard_conforming_strings on, whatever the server's defaults; lock_timeout is part of
// the pool key, and never of the target named in errors.
func TestPoolSessionSettings(t *testing.T) {
	base := postgrestest.Shared(t).Base
	ctx := t.Context()
	pools := NewPools()
	defer pools.Close()
	cfg := clusterConfig(base, 10*time.Second)
	cfg.LockTimeout = "1500ms"
	db, err := pools.DB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Both connections of the pool, not only the first.
	conns := make([]*sql.Conn, 2)
	for i := range conns {
		if conns[i], err = db.Conn(ctx); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
	}
	for i, conn := range conns {
		for setting, want := range map[string]string{"lock_timeout": "1500ms", "standard_conforming_strings": "on"} {
			var got string
			if err := conn.QueryRowContext(ctx, "SELECT current_setting($1)", setting).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("session %d: %s = %q, want %q", i, setting, got, want)
			}
		}
	}
	other := cfg
	other.LockTimeout = "2s"
	if db2, _ := pools.DB(other); db2 == db {
		t.Error("a different lock_timeout should get a pool of its own")
	}
	if strings.Contains(cfg.Target(), "lock_timeout") || strings.Contains(cfg.Target(), cfg.Password) {
		t.Errorf("Target() = %q", cfg.Target())
	}
}

// A DDL transaction that times out waiting for a lock names the session holding it.
func TestPoolLockTimeoutNamesHolder(t *testing.T) {
	ctx := t.Context()
	plain := freshDB(t)
	mustExec(t, plain, "CREATE TABLE tweets (id int)")
	var name string
	if err := plain.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	holder, holderPID := lockHolder(t, plain, "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")
	defer func() { _ = holder.Rollback() }()

	pools := NewPools()
	defer pools.Close()
	cfg := clusterConfig(postgrestest.Shared(t).Base, 10*time.Second)
	cfg.Database, cfg.LockTimeout = name, "300ms"
	db, err := pools.DB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "ALTER TABLE tweets ADD COLUMN body text")
		return err
	})
	var lte *LockTimeoutError
	if !errors.As(err, &lte) {
		t.Fatalf("want a LockTimeoutError, got %v", err)
	}
	if lte.LockTimeout != "300ms" || len(lte.Holders) != 1 {
		t.Fatalf("lock_timeout %q, holders %+v", lte.LockTimeout, lte.Holders)
	}
	h := lte.Holders[0]
	if h.PID != holderPID || h.Application != "pgshard_test_holder" || h.State != "idle in transaction" ||
		h.Open <= 0 || strings.Join(h.Locks, ",") != "public.tweets (AccessExclusiveLock)" ||
		h.Query != "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE" {
		t.Fatalf("holder %+v", h)
	}
	if !strings.Contains(h.String(), fmt.Sprintf("pid %d (", holderPID)) {
		t.Fatalf("String() = %q", h.String())
	}
	// Other errors pass through unchanged.
	plainErr := errors.New("boom")
	if got := ExplainLockTimeout(ctx, db, plainErr); got != plainErr {
		t.Fatalf("ExplainLockTimeout changed a non-lock error: %v", got)
	}
}

// lockHolder runs stmt in an open transaction of a session named pgshard_test_holder and
// returns the transaction and the session's pid.
func lockHolder(t *testing.T, db *sql.DB, stmt string) (*sql.Tx, int) {
	t.Helper()
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	mustExec(t, conn, "SET application_name = 'pgshard_test_holder'")
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, stmt)
	return tx, pid
}

// Another session's statement is shown cut before its first literal, so that no password
// in it reaches a diagnostic.
func TestStatementGist(t *testing.T) {
	for query, want := range map[string]string{
		"LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE":                       "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE",
		"ALTER ROLE app PASSWORD 'secret'":                                 "ALTER ROLE app PASSWORD ...",
		"CREATE USER MAPPING FOR app SERVER s OPTIONS (password E'x\\'y')": "CREATE USER MAPPING FOR app SERVER s OPTIONS (password E ...",
		"DO $pw$ BEGIN EXECUTE 'x'; END $pw$":                              "DO ...",
		"SELECT *\n  FROM t WHERE id = $1":                                 "SELECT * FROM t WHERE id = $1",
		"SELECT " + strings.Repeat("x", 200):                               "SELECT " + strings.Repeat("x", 93) + " ...",
	} {
		if got := statementGist(query); got != want {
			t.Errorf("statementGist(%q) = %q, want %q", query, got, want)
		}
	}
}

// A server out of connection slots fails after connect_timeout with an error that names
// the limit reached and the pool's own cap. Role and database limits share the SQLSTATE.
func TestPoolTooManyConnections(t *testing.T) {
	base := postgrestest.Shared(t).Base
	plain := freshDB(t)
	ctx := t.Context()
	var name string
	if err := plain.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	role := name + "_r"
	mustExec(t, plain, "CREATE ROLE "+Ident(role)+" LOGIN CONNECTION LIMIT 1 PASSWORD 'few-slots'")
	t.Cleanup(func() {
		_, _ = plain.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+Ident(role)) //nolint:usetesting // cleanups run after t.Context() is canceled
	})
	cfg := ConnConfig{Host: base.Host, Port: base.Port, Database: name, User: role, Password: "few-slots",
		SSLMode: "disable", ConnectTimeout: 2 * time.Second, MaxConnections: 3}

	// The role's one slot is held by a session of its own.
	pools := NewPools()
	defer pools.Close()
	held, _ := pools.DB(cfg)
	conn, err := held.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ping := func(cfg ConnConfig) string {
		t.Helper()
		p := NewPools()
		defer p.Close()
		db, _ := p.DB(cfg)
		err := db.PingContext(ctx)
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.NoSlotAdvice() == "" {
			t.Fatalf("want a ConnectError out of slots, got %v", err)
		}
		return err.Error()
	}
	other := cfg
	other.MaxConnections = 4 // another pool, as a second provider process would have
	if msg := ping(other); !strings.Contains(msg, "role's CONNECTION LIMIT is reached") || !strings.Contains(msg, "max_connections = 4") {
		t.Errorf("role limit: %s", msg)
	}
	mustExec(t, plain, "ALTER ROLE "+Ident(role)+" CONNECTION LIMIT -1")
	mustExec(t, plain, "ALTER DATABASE "+Ident(name)+" CONNECTION LIMIT 1")
	if msg := ping(other); !strings.Contains(msg, "database's CONNECTION LIMIT is reached") || strings.Contains(msg, "few-slots") {
		t.Errorf("database limit: %s", msg)
	}
}
