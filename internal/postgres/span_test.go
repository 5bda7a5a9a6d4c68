package postgres

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// twoShardFixture is a base with a partitioned table t (id, k, body) and two managed
// shards: europe on Shard1 ('eu') and usa on Shard2 ('us'), each shard table carrying the
// provider's bound CHECK.
func twoShardFixture(t *testing.T) (base, eu, us *sql.DB) {
	t.Helper()
	env := postgrestest.Shared(t)
	base, eu = shardFixture(t)
	name := uniqueName(t) + "_us"
	if err := env.Shard2.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	us, err := env.Shard2.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { us.Close() })
	mustExec(t, base, "CREATE SERVER usa FOREIGN DATA WRAPPER postgres_fdw"+CreateOptionsClause(map[string]string{
		"host": env.Shard2.Host, "port": itoa(env.Shard2.Port), "dbname": name}))
	mustExec(t, base, "CREATE USER MAPPING FOR CURRENT_USER SERVER usa"+CreateOptionsClause(map[string]string{
		"user": env.Shard2.User, "password": env.Shard2.Password}))
	mustExec(t, eu, `CREATE TABLE eu (id bigint, k text, body text, CONSTRAINT eu_bound CHECK (k IN ('eu')))`)
	mustExec(t, us, `CREATE TABLE us (id bigint, k text, body text, CONSTRAINT us_bound CHECK (k IN ('us')))`)
	mustExec(t, base, `CREATE TABLE t (id bigint, k text, body text) PARTITION BY LIST (k)`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF t FOR VALUES IN ('eu') SERVER europe OPTIONS (table_name 'eu')`)
	mustExec(t, base, `CREATE FOREIGN TABLE us PARTITION OF t FOR VALUES IN ('us') SERVER usa OPTIONS (table_name 'us')`)
	mustExec(t, base, `CREATE TABLE t_default PARTITION OF t DEFAULT`)
	return base, eu, us
}

func columnType(t *testing.T, db *sql.DB, table, column string) string {
	t.Helper()
	var typ string
	if err := db.QueryRow(`SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, table, column).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	return typ
}

// A narrowing type change that one shard refuses changes nothing anywhere: not the
// parent, not the shard that accepted, and no prepared transaction is left behind; the
// table stays readable. A change every shard accepts reaches all of them.
func TestAlterPartitionedTableOneOutcome(t *testing.T) {
	base, eu, us := twoShardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `INSERT INTO t VALUES (1, 'eu', 'ab'), (2, 'us', 'abcdef'), (3, 'xx', 'a')`)
	cols := func(body string) Table {
		return Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "k", Type: "text"}, {Name: "body", Type: body}}}
	}
	_, err := AlterPartitionedTable(ctx, base, "public", "t", cols("varchar(3)"), false)
	var part *PartError
	if !errors.As(err, &part) || part.Server != "usa" || !strings.Contains(err.Error(), "value too long") {
		t.Fatalf("want the usa shard's refusal, got %v", err)
	}
	for _, c := range []struct {
		db    *sql.DB
		table string
	}{{base, "t"}, {eu, "eu"}, {us, "us"}} {
		if got := columnType(t, c.db, c.table, "body"); got != "text" {
			t.Errorf("%s.body is %s after a refused change, want text", c.table, got)
		}
	}
	for _, db := range []*sql.DB{eu, us} {
		expectCount(t, db, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
	}
	expectCount(t, base, 3, `SELECT count(*) FROM t`)

	if _, err := AlterPartitionedTable(ctx, base, "public", "t", cols("varchar(10)"), false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		db    *sql.DB
		table string
	}{{base, "t"}, {eu, "eu"}, {us, "us"}} {
		if got := columnType(t, c.db, c.table, "body"); got != "character varying(10)" {
			t.Errorf("%s.body is %s, want character varying(10)", c.table, got)
		}
	}
	for _, db := range []*sql.DB{eu, us} {
		expectCount(t, db, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
	}
	expectCount(t, base, 3, `SELECT count(*) FROM t WHERE body IS NOT NULL`)
}

// A shard that cannot be reached stops the change before anything commits.
func TestAlterPartitionedTableShardDownChangesNothing(t *testing.T) {
	base, eu, _ := twoShardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `ALTER SERVER usa OPTIONS (SET port '1')`)
	to := Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "k", Type: "text"}, {Name: "body", Type: "text"}, {Name: "n", Type: "integer"}}}
	_, err := AlterPartitionedTable(ctx, base, "public", "t", to, false)
	var part *PartError
	if !errors.As(err, &part) || part.Server != "usa" {
		t.Fatalf("want the unreachable usa shard named, got %v", err)
	}
	expectCount(t, base, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'`)
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attname = 'n'`)
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
}

// What a crash between the base's commit and COMMIT PREPARED leaves is resolved from the
// base's commit log: a part whose base transaction committed is committed, one whose base
// transaction rolled back is rolled back, and another base's prepared transaction is left.
func TestResolvePrepared(t *testing.T) {
	base, eu, _ := twoShardFixture(t)
	ctx := t.Context()
	ident, err := baseIdentity(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	baseXact := func(commit bool) string {
		tx, err := base.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var xid string
		if err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
		return xid
	}
	// Each prepared part changes a table of its own: a prepared transaction keeps its locks.
	prepare := func(gid, column string) {
		conn, err := eu.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, stmt := range []string{`BEGIN`, `CREATE TABLE ` + Ident(column) + ` (id int)`, `PREPARE TRANSACTION ` + Literal(gid)} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	prepare(ident+baseXact(true)+"_0", "committed_col")
	prepare(ident+baseXact(false)+"_0", "aborted_col")
	other := "pgshard_0_1_" + baseXact(true) + "_0" // another base's
	prepare(other, "other_col")
	t.Cleanup(func() { _, _ = eu.Exec(`ROLLBACK PREPARED ` + Literal(other)) })

	if err := resolvePrepared(ctx, base, "europe"); err != nil {
		t.Fatal(err)
	}
	expectCount(t, eu, 1, `SELECT count(*) FROM pg_class WHERE relname = 'committed_col'`)
	expectCount(t, eu, 0, `SELECT count(*) FROM pg_class WHERE relname = 'aborted_col'`)
	var left string
	if err := eu.QueryRow(`SELECT string_agg(gid, ',') FROM pg_prepared_xacts WHERE database = current_database()`).Scan(&left); err != nil || left != other {
		t.Fatalf("prepared transactions left %q (%v), want only %q", left, err, other)
	}
}

// A dropped column's values on a shard are counted by the shard, in its part of the change:
// while they exist the drop is refused everywhere, unless forced.
func TestAlterPartitionedTableDropCountsShardValues(t *testing.T) {
	base, eu, us := twoShardFixture(t)
	ctx := t.Context()
	mustExec(t, us, `INSERT INTO us VALUES (1, 'us', 'kept')`)
	to := Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "k", Type: "text"}}}
	_, err := AlterPartitionedTable(ctx, base, "public", "t", to, false)
	if err == nil || !strings.Contains(err.Error(), `column body of public.us holds 1 values`) {
		t.Fatalf("want the usa shard to refuse dropping its values, got %v", err)
	}
	for _, c := range []struct {
		db    *sql.DB
		table string
	}{{base, "t"}, {eu, "eu"}, {us, "us"}} {
		expectCount(t, c.db, 1, `SELECT count(*) FROM pg_attribute WHERE attrelid = '`+c.table+`'::regclass AND attname = 'body' AND NOT attisdropped`)
	}
	if _, err := AlterPartitionedTable(ctx, base, "public", "t", to, true); err != nil {
		t.Fatal(err)
	}
	expectCount(t, us, 0, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'us'::regclass AND attname = 'body' AND NOT attisdropped`)
	expectCount(t, us, 1, `SELECT count(*) FROM us`)
}

// New partitions of a parent with a generated column attach (a partition's column must be
// generated where the parent's is): a foreign one, and a local one made to take DEFAULT's
// rows; the moved rows keep their computed values.
func TestAttachPartitionsUnderGeneratedColumn(t *testing.T) {
	base, eu := shardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE g (k text, n int, twice int GENERATED ALWAYS AS (n * 2) STORED) PARTITION BY LIST (k)`)
	mustExec(t, base, `CREATE TABLE g_default PARTITION OF g DEFAULT`)
	mustExec(t, base, `INSERT INTO g (k, n) VALUES ('local', 21)`)
	mustExec(t, eu, `CREATE TABLE g_eu (k text, n int, twice int GENERATED ALWAYS AS (n * 2) STORED)`)
	parent, err := ReadTable(ctx, base, "public", "g")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Partition{
		{Schema: "public", Name: "g_eu", ParentSchema: "public", ParentName: "g", Foreign: true, Server: "europe",
			Options: map[string]string{"table_name": "g_eu"}, Bound: Bound{In: []string{"eu"}}},
		{Schema: "public", Name: "g_local", ParentSchema: "public", ParentName: "g", Bound: Bound{In: []string{"local"}}},
	} {
		if err := inTx(ctx, base, func(tx *sql.Tx) error {
			_, err := attachNewPartition(ctx, tx, p, parent, !p.Foreign, p.Foreign)
			return err
		}); err != nil {
			t.Fatalf("attaching %s: %v", p.Name, err)
		}
	}
	mustExec(t, base, `INSERT INTO g (k, n) VALUES ('eu', 5)`)
	expectCount(t, eu, 10, `SELECT twice FROM g_eu`)
	expectCount(t, base, 42, `SELECT twice FROM ONLY g_local`)
	expectCount(t, base, 0, `SELECT count(*) FROM ONLY g_default`)
}
