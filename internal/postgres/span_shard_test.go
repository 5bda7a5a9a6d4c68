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

// Tests of changes that span the base and a shard (bound CHECKs, repairs, lock waits on the
// shard), against the shared clusters.

// euPartition is the foreign partition eu of twoShardFixture's parent t with bound values.
func euPartition(values ...string) Partition {
	return Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "t", Foreign: true, Server: "europe",
		Options: map[string]string{"schema_name": "public", "table_name": "eu"}, Bound: Bound{In: values}}
}

// shardCheck is the bound CHECK of the fixture's shard table eu, "" for none.
func shardCheck(t *testing.T, shard *sql.DB) string {
	t.Helper()
	const table = "eu"
	var def string
	if err := shard.QueryRow(`SELECT coalesce((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2), '')`,
		table, table+"_bound").Scan(&def); err != nil {
		t.Fatal(err)
	}
	return def
}

// partitionBound is the bound of the fixture's foreign partition eu.
func partitionBound(t *testing.T, base *sql.DB) string {
	t.Helper()
	const table = "eu"
	var bound string
	if err := base.QueryRow(`SELECT coalesce(pg_get_expr(relpartbound, oid), '') FROM pg_class WHERE oid = $1::regclass`, table).Scan(&bound); err != nil {
		t.Fatal(err)
	}
	return bound
}

// A bound change of a managed foreign partition happens on the base and the shard's CHECK
// together, or on neither: the shard refusing (rows outside the new bound) leaves the base's
// bound, and the base refusing (DEFAULT rows of a new key) leaves the shard's CHECK; no
// prepared transaction is left.
func TestUpdateForeignPartitionOneOutcome(t *testing.T) {
	base, eu, _ := twoShardFixture(t)
	ctx := t.Context()
	if err := UpdateForeignPartition(ctx, base, "public", "eu", euPartition("eu", "fr"), true); err != nil {
		t.Fatal(err)
	}
	const wide = "FOR VALUES IN ('eu', 'fr')"
	if got := partitionBound(t, base); got != wide {
		t.Fatalf("bound %s, want %s", got, wide)
	}
	wideCheck := shardCheck(t, eu)
	if !strings.Contains(wideCheck, "'fr'") {
		t.Fatalf("shard CHECK %s does not admit fr", wideCheck)
	}

	mustExec(t, eu, `INSERT INTO eu VALUES (1, 'fr', 'x')`)
	err := UpdateForeignPartition(ctx, base, "public", "eu", euPartition("eu"), true)
	var part *PartError
	if !errors.As(err, &part) || part.Server != "europe" || !strings.Contains(err.Error(), "eu_bound") {
		t.Fatalf("want the shard's refusal of the narrower CHECK, got %v", err)
	}
	if got := partitionBound(t, base); got != wide {
		t.Errorf("bound %s after the shard refused, want %s", got, wide)
	}

	mustExec(t, base, `INSERT INTO t_default VALUES (2, 'de', 'y')`)
	if err := UpdateForeignPartition(ctx, base, "public", "eu", euPartition("eu", "fr", "de"), true); err == nil || !strings.Contains(err.Error(), "default partition") {
		t.Fatalf("want the base's refusal (a DEFAULT row of de), got %v", err)
	}
	if got := shardCheck(t, eu); got != wideCheck {
		t.Errorf("shard CHECK %s after the base refused, want %s", got, wideCheck)
	}
	if got := partitionBound(t, base); got != wide {
		t.Errorf("bound %s after the base refused, want %s", got, wide)
	}
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
	expectCount(t, base, 2, `SELECT count(*) FROM t`)
}

// A repair renames the shard's column and drops the foreign table's column_name option as
// one change: a base that cannot take its part (here its lock wait is cut) leaves the shard
// column as it was, so the foreign table still reads it; the next repair does both.
func TestRepairShardOneOutcome(t *testing.T) {
	base, eu, _ := twoShardFixture(t)
	ctx := t.Context()
	mustExec(t, eu, `ALTER TABLE eu RENAME COLUMN body TO old_body`)
	mustExec(t, eu, `ALTER TABLE eu DROP CONSTRAINT eu_bound`)
	mustExec(t, base, `ALTER FOREIGN TABLE eu ALTER COLUMN body OPTIONS (ADD column_name 'old_body')`)
	mustExec(t, eu, `INSERT INTO eu VALUES (1, 'eu', 'kept')`)
	remote := ShardTable{Server: "europe", Schema: "public", Name: "eu", CheckName: "eu_bound", Check: "k IN ('eu')",
		Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "k", Type: "text"}, {Name: "body", Type: "text"}}}

	holder, _ := lockHolder(t, base, "SELECT count(*) FROM eu WHERE false") // a foreign table takes no LOCK TABLE
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := RepairShard(short, base, "public", "eu", remote); err == nil {
		t.Fatal("the repair succeeded while the foreign table was locked")
	}
	expectCount(t, eu, 1, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attname = 'old_body'`)
	if got := shardCheck(t, eu); got != "" {
		t.Errorf("shard CHECK %s set by a repair that failed", got)
	}
	expectCount(t, base, 1, `SELECT count(*) FROM t WHERE body = 'kept'`)
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}

	if err := RepairShard(ctx, base, "public", "eu", remote); err != nil {
		t.Fatal(err)
	}
	expectCount(t, eu, 1, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attname = 'body'`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attfdwoptions IS NOT NULL`)
	if got := shardCheck(t, eu); !strings.Contains(got, "'eu'") {
		t.Errorf("shard CHECK %q after the repair", got)
	}
	expectCount(t, base, 1, `SELECT count(*) FROM t WHERE body = 'kept'`)
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)

	// Rows written on the shard outside the bound: the repair is refused as such, changing nothing.
	mustExec(t, eu, `ALTER TABLE eu DROP CONSTRAINT eu_bound`)
	mustExec(t, eu, `ALTER TABLE eu ADD COLUMN extra int`)
	mustExec(t, eu, `INSERT INTO eu VALUES (2, 'us', 'stray')`)
	remote.Columns = append(remote.Columns, Column{Name: "n", Type: "integer"})
	err := RepairShard(ctx, base, "public", "eu", remote)
	var outside *ShardRowsOutsideBoundError
	if !errors.As(err, &outside) || outside.Rows != 1 {
		t.Fatalf("want 1 row outside the bound, got %v", err)
	}
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attname = 'n'`)
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
}

// A change cut between the base's commit and COMMIT PREPARED leaves the shard's part
// prepared (holding the shard table's lock); the next refresh of the partition, through
// InspectShard, finishes it, and shows the change.
func TestInspectShardResolvesPrepared(t *testing.T) {
	base, eu, _ := twoShardFixture(t)
	ctx := t.Context()
	ident, err := baseIdentity(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := base.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var xid string
	if err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	conn, err := eu.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`BEGIN`, `ALTER TABLE eu ADD COLUMN n integer`, `PREPARE TRANSACTION ` + Literal(ident+xid+"_0")} {
		mustExec(t, conn, stmt)
	}
	conn.Close()
	t.Cleanup(func() { _, _ = eu.Exec(`ROLLBACK PREPARED ` + Literal(ident+xid+"_0")) })

	st, err := InspectShard(ctx, base, "europe", "public", "eu", "eu_bound")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range st.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "id,k,body,n" {
		t.Errorf("the shard table's columns read %s, want the prepared change's column n too", got)
	}
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
	expectCount(t, eu, 1, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attname = 'n'`)
}

// lockTimeoutBase is a pool on base's database whose sessions take lock_timeout.
func lockTimeoutBase(t *testing.T, base *sql.DB, lockTimeout string) *sql.DB {
	t.Helper()
	var name string
	if err := base.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	pools := NewPools()
	t.Cleanup(func() { pools.Close() })
	cfg := clusterConfig(postgrestest.Shared(t).Base, 10*time.Second)
	cfg.Database, cfg.LockTimeout = name, lockTimeout
	db, err := pools.DB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// A statement on a shard waits for a lock no longer than the provider's lock_timeout, and
// the error names the shard's server and the session holding the lock there: a change's
// part (nothing changes anywhere), a plain statement, and a dblink read.
func TestShardLockTimeoutNamesShardHolder(t *testing.T) {
	fixture, eu, _ := twoShardFixture(t)
	// A wait the provider does not bound fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	base := lockTimeoutBase(t, fixture, "500ms")
	holder, holderPID := lockHolder(t, eu, "LOCK TABLE eu IN ACCESS EXCLUSIVE MODE")
	defer func() { _ = holder.Rollback() }()
	check := func(what string, err error, started time.Time) {
		t.Helper()
		if waited := time.Since(started); waited > 10*time.Second {
			t.Errorf("%s: waited %s with lock_timeout 500ms", what, waited)
		}
		var shard *ShardLockTimeoutError
		if !errors.As(err, &shard) || shard.Server != "europe" || shard.LockTimeout != "500ms" || len(shard.Holders) != 1 {
			t.Fatalf("%s: want the shard's lock holder, got %v", what, err)
		}
		if h := shard.Holders[0]; h.PID != holderPID || h.Application != "pgshard_test_holder" || strings.Join(h.Locks, ",") != "public.eu (AccessExclusiveLock)" {
			t.Errorf("%s: holder %+v", what, h)
		}
		if msg := err.Error(); !strings.Contains(msg, `server "europe"`) || !strings.Contains(msg, fmt.Sprintf("pid %d (", holderPID)) {
			t.Errorf("%s: the error does not name the shard and the holder: %s", what, msg)
		}
	}

	started := time.Now()
	to := Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "k", Type: "text"}, {Name: "body", Type: "text"}, {Name: "n", Type: "integer"}}}
	_, err := AlterPartitionedTable(ctx, base, "public", "t", to, false)
	var part *PartError
	if !errors.As(err, &part) || part.Server != "europe" {
		t.Fatalf("want the europe shard's part refused, got %v", err)
	}
	check("column add", err, started)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'`)
	for _, db := range []*sql.DB{eu, postgrestestShard2(t, fixture)} {
		expectCount(t, db, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
	}

	started = time.Now()
	check("statement", setShardCheck(ctx, base, "europe", "public", "eu", "eu_bound", "k IN ('eu')"), started)
	started = time.Now()
	_, err = ShardRowsRefused(ctx, base, "europe", "public", "eu", "k IN ('eu')")
	check("read", err, started)
	// A role that may not call dblink_connect gets a connection per query, bounded too.
	unnamed, err := OpenShardSession(ctx, base, "europe")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = unnamed.conn.ExecContext(ctx, `SELECT `+unnamed.close+`($1)`, unnamed.name)
	unnamed.named, unnamed.name = false, "europe"
	started = time.Now()
	_, err = unnamed.rowsRefused(ctx, "public", "eu", "k IN ('eu')")
	unnamed.conn.Close()
	check("unnamed read", ExplainLockTimeout(ctx, base, err), started)
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attname = 'n'`)
}

// postgrestestShard2 opens the usa shard's database of twoShardFixture, read from its server.
func postgrestestShard2(t *testing.T, base *sql.DB) *sql.DB {
	t.Helper()
	var dbname string
	if err := base.QueryRow(`SELECT substr(o, 8) FROM pg_foreign_server, unnest(srvoptions) o WHERE srvname = 'usa' AND o LIKE 'dbname=%'`).Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	db, err := postgrestest.Shared(t).Shard2.Open(dbname)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A managed foreign partition detached out of band is attached again with its bound, and the
// parent's sequence set past the shard's ids, in one change with the shard's CHECK.
func TestUpdateForeignPartitionReattachAdvancesSequence(t *testing.T) {
	fixture, eu := shardFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	base := lockTimeoutBase(t, fixture, "5s")
	mustExec(t, eu, `CREATE TABLE eu (id bigint, k text, CONSTRAINT eu_bound CHECK (k IN ('eu')))`)
	mustExec(t, eu, `INSERT INTO eu VALUES (41, 'eu')`)
	mustExec(t, base, `CREATE TABLE t (id bigserial, k text) PARTITION BY LIST (k)`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF t FOR VALUES IN ('eu') SERVER europe OPTIONS (schema_name 'public', table_name 'eu')`)
	mustExec(t, base, `ALTER TABLE t DETACH PARTITION eu`)
	started := time.Now()
	if err := UpdateForeignPartition(ctx, base, "public", "eu", euPartition("eu"), true); err != nil {
		t.Fatalf("after %s: %v", time.Since(started), err)
	}
	if got := partitionBound(t, base); got != "FOR VALUES IN ('eu')" {
		t.Errorf("bound %q", got)
	}
	expectCount(t, base, 42, `SELECT nextval('t_id_seq')`)
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
}
