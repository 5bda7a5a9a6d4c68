package postgres

import (
	"database/sql"
	"strings"
	"testing"
)

// onBase is the FROM item of the rows of tweets the base keeps itself: DEFAULT's, and the
// holding partitions' (the rows of keys a shard gave to DEFAULT).
const onBase = `(SELECT t.* FROM tweets t JOIN pg_class c ON c.oid = t.tableoid WHERE c.relkind = 'r') d`

func expectCount(t *testing.T, db *sql.DB, want int64, query string, args ...any) {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil || n != want {
		t.Fatalf("%s = %d (%v), want %d", query, n, err, want)
	}
}

// A shard gives keys to DEFAULT and takes them back: every row is moved exactly once, with
// the same checksum, the shard's CHECK follows, and a move left half done (the shard's rows
// gone, the base's commit lost) is finished from the journal.
func TestMoveBetweenShardAndDefault(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE tweets (id int, location text, body text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, shard, `CREATE TABLE eu (id int, location text, body text, CONSTRAINT eu_bound CHECK (location IN ('europe', 'eu')))`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF tweets FOR VALUES IN ('europe', 'eu') SERVER europe OPTIONS (table_name 'eu')`)
	mustExec(t, base, `INSERT INTO tweets SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'europe' END, 'b' || g FROM generate_series(1, 300) g`)
	var before int64
	if err := base.QueryRow(`SELECT sum(hashtextextended(t::text, 0)) % 9223372036854775807 FROM (SELECT id, location, body FROM tweets) t`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	p := Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "tweets", Foreign: true, Server: "europe",
		Options: map[string]string{"table_name": "eu"}}
	both, europe := Bound{In: []string{"europe", "eu"}}, Bound{In: []string{"europe"}}

	// The plan's preview: rows per key, counted on the shard.
	keys, toDefault, def, err := MovingKeys(ctx, base, p, both, europe)
	if err != nil || !toDefault || def != `public.tweets_default` || len(keys) != 1 || keys[0] != (KeyRows{Key: "'eu'", Rows: 100}) {
		t.Fatalf("MovingKeys before the narrowing: %v %v %q %v", keys, toDefault, def, err)
	}

	p.Bound = europe
	res, err := MoveToDefault(ctx, base, p, both, true)
	if err != nil || res.Rows != 100 {
		t.Fatalf("move to DEFAULT: %+v, %v", res, err)
	}
	expectCount(t, base, 100, `SELECT count(*) FROM `+onBase+` WHERE location = 'eu'`)
	expectCount(t, shard, 0, `SELECT count(*) FROM eu WHERE location = 'eu'`)
	// They are in the holding partition of the key, attached for it; DEFAULT has none.
	expectCount(t, base, 100, `SELECT count(*) FROM ONLY `+holdingName("tweets", Bound{In: []string{"eu"}}))
	expectCount(t, base, 1, `SELECT count(*) FROM pg_class WHERE relname = $1 AND relispartition AND pg_get_expr(relpartbound, oid) = $2`,
		holdingName("tweets", Bound{In: []string{"eu"}}), `FOR VALUES IN ('eu')`)
	expectCount(t, base, 0, `SELECT count(*) FROM ONLY tweets_default`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard%'`)
	expectCount(t, base, 300, `SELECT count(DISTINCT id) FROM tweets`)
	expectCount(t, base, 300, `SELECT count(*) FROM tweets`)
	if _, err := shard.Exec(`INSERT INTO eu VALUES (999, 'eu', 'refused')`); err == nil {
		t.Fatal("the shard's CHECK still admits the key that left")
	}

	keys, toDefault, _, err = MovingKeys(ctx, base, p, europe, both)
	if err != nil || toDefault || len(keys) != 1 || keys[0] != (KeyRows{Key: "'eu'", Rows: 100}) {
		t.Fatalf("MovingKeys before the widening: %v %v %v", keys, toDefault, err)
	}
	p.Bound = both
	if res, err := MoveFromDefault(ctx, base, p, europe, true); err != nil || res.Rows != 100 {
		t.Fatalf("move from DEFAULT: %+v, %v", res, err)
	}
	expectCount(t, base, 0, `SELECT count(*) FROM `+onBase)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard%'`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard%'`)
	expectCount(t, shard, 300, `SELECT count(*) FROM eu`)
	var after int64
	if err := base.QueryRow(`SELECT sum(hashtextextended(t::text, 0)) % 9223372036854775807 FROM (SELECT id, location, body FROM tweets) t`).Scan(&after); err != nil || after != before {
		t.Fatalf("checksum after the round trip %d, before %d (%v)", after, before, err)
	}

	// A crash between the shard's commit and the base's: the journal holds the rows, the
	// shard does not, DEFAULT does not. The next move finishes from the journal.
	mustExec(t, base, `CREATE TABLE pgshard_move_eu AS SELECT id, location, body FROM ONLY eu WHERE location = 'eu'`)
	mustExec(t, shard, `DELETE FROM eu WHERE location = 'eu'`)
	expectCount(t, base, 200, `SELECT count(*) FROM tweets`)
	p.Bound = europe
	if res, err := MoveToDefault(ctx, base, p, both, true); err != nil || !res.Resumed || res.Rows != 100 {
		t.Fatalf("resumed move: %+v, %v", res, err)
	}
	expectCount(t, base, 300, `SELECT count(*) FROM tweets`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname = 'pgshard_move_eu'`)

	// A crash after the rows were copied onto the shard but before DEFAULT let them go: the
	// next move does not copy them twice.
	mustExec(t, shard, `ALTER TABLE eu DROP CONSTRAINT eu_bound`)
	mustExec(t, shard, `INSERT INTO eu SELECT id, location, body FROM (VALUES (3, 'eu', 'b3'), (6, 'eu', 'b6')) v(id, location, body)`)
	p.Bound = both
	if res, err := MoveFromDefault(ctx, base, p, europe, true); err != nil || !res.Resumed {
		t.Fatalf("resumed move from DEFAULT: %+v, %v", res, err)
	}
	expectCount(t, shard, 300, `SELECT count(*) FROM eu`)
	expectCount(t, base, 300, `SELECT count(DISTINCT id) FROM tweets`)

	// A journal left by a move to another bound holds a row found nowhere else: a new
	// move refuses rather than drop it, and changes nothing.
	mustExec(t, base, `CREATE TABLE pgshard_move_eu AS SELECT 999::int AS id, 'eu'::text AS location, 'only copy'::text AS body`)
	p.Bound = europe
	if _, err := MoveToDefault(ctx, base, p, both, true); err == nil || !strings.Contains(err.Error(), "holds 1 rows that are neither on the shard nor in DEFAULT") {
		t.Fatalf("a move over an orphaned journal: %v", err)
	}
	expectCount(t, base, 1, `SELECT count(*) FROM pgshard_move_eu WHERE body = 'only copy'`)
	expectCount(t, shard, 300, `SELECT count(*) FROM eu`)
	expectCount(t, base, 0, `SELECT count(*) FROM `+onBase)
}

// A local partition moves its rows in one transaction, and a partition that goes away
// moves all of them.
func TestMoveLocalPartition(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE t (k text, v int) PARTITION BY LIST (k)`)
	mustExec(t, db, `CREATE TABLE t_default PARTITION OF t DEFAULT`)
	mustExec(t, db, `CREATE TABLE t_ab PARTITION OF t FOR VALUES IN ('a', 'b')`)
	mustExec(t, db, `INSERT INTO t VALUES ('a', 1), ('b', 2), ('b', 3)`)
	p := Partition{Schema: "public", Name: "t_ab", ParentSchema: "public", ParentName: "t", Bound: Bound{In: []string{"a"}}}
	if res, err := MoveToDefault(ctx, db, p, Bound{In: []string{"a", "b"}}, false); err != nil || res.Rows != 2 {
		t.Fatalf("narrow: %+v, %v", res, err)
	}
	expectCount(t, db, 2, `SELECT count(*) FROM ONLY t_default`)
	p.Bound = NoBound
	if res, err := MoveToDefault(ctx, db, p, Bound{In: []string{"a"}}, false); err != nil || res.Rows != 1 {
		t.Fatalf("all rows: %+v, %v", res, err)
	}
	expectCount(t, db, 3, `SELECT count(*) FROM ONLY t_default`)
	expectCount(t, db, 0, `SELECT count(*) FROM t_ab`)
	expectCount(t, db, 3, `SELECT count(*) FROM t`)
}

// Hostile names and values go through a move verbatim: nothing but the move runs.
func TestMoveHostileNames(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE canary (id int)`)
	const part, col, value = `p"; DROP TABLE canary; --`, `k'); DROP TABLE canary; --`, `x'); DROP TABLE canary; --`
	mustExec(t, db, `CREATE TABLE t (`+Ident(col)+` text, v int) PARTITION BY LIST (`+Ident(col)+`)`)
	mustExec(t, db, `CREATE TABLE t_default PARTITION OF t DEFAULT`)
	mustExec(t, db, `CREATE TABLE `+Ident(part)+` PARTITION OF t FOR VALUES IN (`+Literal(value)+`, 'b')`)
	mustExec(t, db, `INSERT INTO t VALUES ($1, 1), ('b', 2)`, value)
	p := Partition{Schema: "public", Name: part, ParentSchema: "public", ParentName: "t", Bound: Bound{In: []string{"b"}}}
	keys, toDefault, _, err := MovingKeys(ctx, db, p, Bound{In: []string{value, "b"}}, p.Bound)
	if err != nil || !toDefault || len(keys) != 1 || keys[0] != (KeyRows{Key: Literal(value), Rows: 1}) {
		t.Fatalf("the plan's preview of the move: %v %v %v", keys, toDefault, err)
	}
	if n, found, err := PendingMove(ctx, db, p); err != nil || found || n != 0 {
		t.Fatalf("no move is pending: %d %v %v", n, found, err)
	}
	if res, err := MoveToDefault(ctx, db, p, Bound{In: []string{value, "b"}}, false); err != nil || res.Rows != 1 {
		t.Fatalf("move: %+v, %v", res, err)
	}
	p.Bound = Bound{In: []string{value, "b"}}
	if res, err := MoveFromDefault(ctx, db, p, Bound{In: []string{"b"}}, false); err != nil || res.Rows != 1 {
		t.Fatalf("move back: %+v, %v", res, err)
	}
	if !canaryAlive(t, db) {
		t.Fatal("the canary was dropped")
	}
	expectCount(t, db, 2, `SELECT count(*) FROM `+Ident(part))
}
