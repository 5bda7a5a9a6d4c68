package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// The rows of keys a shard gives to DEFAULT wait in a holding partition, and every later
// taker of those keys takes them from there: a widened shard and a new partition (each
// taking some keys of a holding, or all), a new partition that moves no rows (the holding
// must be empty of its keys), and a drop of DEFAULT (which counts them). Each step checks
// where the rows are, that every row is still seen once through the parent, and that no
// move constraint is left.
func TestHoldingPartitionsGiveTheirRowsToEveryTaker(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE tweets (id int NOT NULL, location text, body text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE INDEX ON tweets (id)`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, shard, `CREATE TABLE eu (id int NOT NULL, location text, body text, CONSTRAINT eu_bound CHECK (location IN ('europe', 'eu', 'uk')))`)
	mustExec(t, shard, `CREATE TABLE eu2 (id int NOT NULL, location text, body text)`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF tweets FOR VALUES IN ('europe', 'eu', 'uk') SERVER europe OPTIONS (table_name 'eu')`)
	mustExec(t, base, `INSERT INTO tweets SELECT g, (ARRAY['europe', 'eu', 'uk'])[1 + g % 3], 'b' || g FROM generate_series(1, 300) g`)
	mustExec(t, base, `INSERT INTO tweets VALUES (1000, 'mars', 'in DEFAULT')`)
	sum := func() (n, s int64) {
		t.Helper()
		n, s, err := checksumOf(ctx, base, `SELECT id, location, body FROM tweets`)
		if err != nil {
			t.Fatal(err)
		}
		return n, s
	}
	rows, before := sum()
	same := func(step string) {
		t.Helper()
		if n, s := sum(); n != rows || s != before {
			t.Fatalf("%s: %d rows through the parent (checksum %d), want %d (%d)", step, n, s, rows, before)
		}
		expectCount(t, base, 0, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard%'`)
		expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_move\_%' AND relkind = 'r'`)
	}
	held := func(values ...string) string { return holdingName("tweets", Bound{In: values}) }
	parent, err := ReadTable(ctx, base, "public", "tweets")
	if err != nil {
		t.Fatal(err)
	}

	// Two keys leave the shard: one holding partition holds their rows, attached for them.
	p := Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "tweets", Foreign: true, Server: "europe",
		Options: map[string]string{"table_name": "eu"}, Bound: Bound{In: []string{"europe"}}}
	if res, err := MoveToDefault(ctx, base, p, Bound{In: []string{"europe", "eu", "uk"}}, true); err != nil || res.Rows != 200 {
		t.Fatalf("move to DEFAULT: %+v, %v", res, err)
	}
	same("after the narrowing")
	expectCount(t, base, 200, `SELECT count(*) FROM ONLY `+held("eu", "uk"))
	expectCount(t, base, 1, `SELECT count(*) FROM ONLY tweets_default`)
	expectCount(t, base, 1, `SELECT count(*) FROM pg_indexes WHERE tablename = $1`, held("eu", "uk"))
	if _, n, err := DefaultRowsMatching(ctx, base, parent, Bound{In: []string{"uk", "mars"}}); err != nil || n != 101 {
		t.Fatalf("DefaultRowsMatching counts %d (%v), want 101 (DEFAULT's and the holding's)", n, err)
	}
	if keys, err := DefaultRowsByKey(ctx, base, parent, "public.tweets_default", `location IN ('uk', 'mars')`); err != nil || len(keys) != 2 || keys[0] != (KeyRows{Key: "'uk'", Rows: 100}) {
		t.Fatalf("DefaultRowsByKey: %v %v", keys, err)
	}
	// A row of a held key written through the parent lands in the holding partition.
	mustExec(t, base, `INSERT INTO tweets VALUES (1001, 'uk', 'after')`)
	rows, before = sum()

	// The shard takes one of them back: the holding keeps the other, renamed after it.
	p.Bound = Bound{In: []string{"europe", "uk"}}
	if res, err := MoveFromDefault(ctx, base, p, Bound{In: []string{"europe"}}, true); err != nil || res.Rows != 101 {
		t.Fatalf("move from DEFAULT: %+v, %v", res, err)
	}
	same("after the widening")
	expectCount(t, shard, 101, `SELECT count(*) FROM eu WHERE location = 'uk'`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname = $1`, held("eu", "uk"))
	expectCount(t, base, 100, `SELECT count(*) FROM ONLY `+held("eu"))
	expectCount(t, base, 1, `SELECT count(*) FROM pg_class WHERE relname = $1 AND pg_get_expr(relpartbound, oid) = $2`, held("eu"), `FOR VALUES IN ('eu')`)

	// A new partition with the last held key and move_rows_from_default: the holding goes.
	mustExec(t, base, `INSERT INTO tweets VALUES (1002, 'eu', 'after')`)
	rows, before = sum()
	q := Partition{Schema: "public", Name: "eu_new", ParentSchema: "public", ParentName: "tweets", Foreign: true, Server: "europe",
		Options: map[string]string{"table_name": "eu2"}, Bound: Bound{In: []string{"eu"}}}
	if err := CreateForeignPartition(ctx, base, q, parent, true); err != nil {
		t.Fatalf("create over the holding partition: %v", err)
	}
	same("after the create")
	expectCount(t, shard, 101, `SELECT count(*) FROM eu2`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_held\_%'`)

	// A key that leaves again, for a partition that moves no rows: refused while the holding
	// holds rows of it; once they are gone, the holding makes way.
	p.Bound = Bound{In: []string{"europe"}}
	if _, err := MoveToDefault(ctx, base, p, Bound{In: []string{"europe", "uk"}}, true); err != nil {
		t.Fatalf("move to DEFAULT again: %v", err)
	}
	same("after the second narrowing")
	uk := Partition{Schema: "public", Name: "uk", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"uk", "wales"}}}
	if err := CreateLocalPartition(ctx, base, uk, parent, false); err == nil || !strings.Contains(err.Error(), "101 rows of the keys") || !strings.Contains(err.Error(), held("uk")) {
		t.Fatalf("a create over a holding's rows without moving them: %v", err)
	}
	expectCount(t, base, 101, `SELECT count(*) FROM ONLY `+held("uk"))
	mustExec(t, base, `DELETE FROM tweets WHERE location = 'uk'`)
	rows, before = sum()
	if err := CreateLocalPartition(ctx, base, uk, parent, false); err != nil {
		t.Fatalf("a create over an empty holding: %v", err)
	}
	same("after the create over an empty holding")
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_held\_%'`)

	// DEFAULT's drop counts the holdings' rows, and takes them with it when forced.
	p.Bound = NoBound
	if _, err := MoveToDefault(ctx, base, p, Bound{In: []string{"europe"}}, true); err != nil {
		t.Fatalf("a partition that goes away: %v", err)
	}
	same("after the partition went away")
	expectCount(t, base, 100, `SELECT count(*) FROM ONLY `+held("europe"))
	var loss *LossError
	if err := DropTable(ctx, base, "public", "tweets_default", false); !errors.As(err, &loss) || !strings.Contains(err.Error(), "public."+held("europe")+" (100 rows)") {
		t.Fatalf("dropping DEFAULT with held rows: %v", err)
	}
	if err := DropTable(ctx, base, "public", "tweets_default", true); err != nil {
		t.Fatal(err)
	}
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_held\_%'`)
}

// While a move takes a holding partition whole, its rows cannot change: a delete (through
// the parent or straight to the holding) is refused by the move's trigger and an insert by
// its constraint, each naming them, instead of being lost when the holding goes; once the
// move has committed, both work again, on the shard.
func TestHoldingTakenWholeRefusesWrites(t *testing.T) {
	base, shard := shardFixture(t)
	mustExec(t, base, `CREATE TABLE tweets (id int, location text, body text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, shard, `CREATE TABLE eu (id int, location text, body text, CONSTRAINT eu_bound CHECK (location IN ('europe', 'eu')))`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF tweets FOR VALUES IN ('europe', 'eu') SERVER europe OPTIONS (table_name 'eu')`)
	mustExec(t, base, `INSERT INTO tweets SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'europe' END, 'b' || g FROM generate_series(1, 200) g`)
	p := Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "tweets", Foreign: true, Server: "europe",
		Options: map[string]string{"table_name": "eu"}, Bound: Bound{In: []string{"europe"}}}
	if _, err := MoveToDefault(t.Context(), base, p, Bound{In: []string{"europe", "eu"}}, true); err != nil {
		t.Fatal(err)
	}
	held := holdingName("tweets", Bound{In: []string{"eu"}})
	var tried []string
	ctx := WithStepLogger(t.Context(), func(_ context.Context, s Step) {
		step := s.Text
		if !strings.HasPrefix(step, "move ") {
			return
		}
		for _, stmt := range []string{
			`DELETE FROM tweets WHERE location = 'eu' AND id = 2`,
			`DELETE FROM ` + held + ` WHERE id = 4`,
			`UPDATE tweets SET body = 'changed' WHERE location = 'eu' AND id = 6`,
			`INSERT INTO tweets VALUES (1000, 'eu', 'new')`,
		} {
			_, err := base.Exec(stmt)
			tried = append(tried, fmt.Sprintf("%s: %v", stmt, err))
		}
	})
	p.Bound = Bound{In: []string{"europe", "eu"}}
	if res, err := MoveFromDefault(ctx, base, p, Bound{In: []string{"europe"}}, true); err != nil || res.Rows != 100 {
		t.Fatalf("move from DEFAULT: %+v, %v", res, err)
	}
	if len(tried) != 4 {
		t.Fatalf("the writes ran %d times, want once each: %v", len(tried), tried)
	}
	for i, want := range []string{"are refused until the move commits", "are refused until the move commits", fenceName(p), fenceName(p)} {
		if !strings.Contains(tried[i], want) {
			t.Errorf("write %d during the move: %s, want an error naming %q", i, tried[i], want)
		}
	}
	expectCount(t, shard, 100, `SELECT count(*) FROM eu WHERE location = 'eu'`)
	expectCount(t, base, 200, `SELECT count(*) FROM tweets`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_held\_%'`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgshard%'`)
	mustExec(t, base, `DELETE FROM tweets WHERE location = 'eu' AND id = 2`)
	expectCount(t, shard, 99, `SELECT count(*) FROM eu WHERE location = 'eu'`)
}

// A holding partition is attached under the parent's lock, so its CHECK must spare the
// ATTACH its scan: PostgreSQL says so at DEBUG1 ("partition constraint ... is implied by
// existing constraints") and otherwise "verifying table". Each bound's PartitionCheckSQL,
// hostile values included, is tried against the real server.
func TestPartitionCheckSparesTheAttachScan(t *testing.T) {
	db, take := debugSession(t)
	mustExec(t, db, `CREATE TABLE tweets (id int, "lo""c" text) PARTITION BY LIST ("lo""c")`)
	mustExec(t, db, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	key := KeySQL([]string{`lo"c`})
	for i, b := range []Bound{
		{In: []string{"europe"}},
		{In: []string{"o'brien", "a;b", "$$", `back\slash`, "ünï"}},
		{In: []string{"x", NullValue}},
	} {
		table := fmt.Sprintf("held_%d", i)
		mustExec(t, db, `CREATE TABLE `+table+` (id int, "lo""c" text, CONSTRAINT c CHECK (`+b.PartitionCheckSQL(key)+`))`)
		// DEFAULT's move constraint in the form the moves give it (fenceChecks).
		mustExec(t, db, fmt.Sprintf(`ALTER TABLE tweets_default ADD CONSTRAINT f_%d CHECK (NOT (%s))`, i, b.PartitionCheckSQL(key)))
		take()
		mustExec(t, db, `ALTER TABLE tweets ATTACH PARTITION `+table+` `+b.SQL())
		got := take()
		if !strings.Contains(got, `partition constraint for table "`+table+`" is implied by existing constraints`) || strings.Contains(got, `verifying table "`+table+`"`) {
			t.Errorf("ATTACH of %s %s with CHECK (%s) scanned it:\n%s", table, b.SQL(), b.PartitionCheckSQL(key), got)
		}
		if !strings.Contains(got, `updated partition constraint for default partition "tweets_default" is implied by existing constraints`) || strings.Contains(got, `verifying table "tweets_default"`) {
			t.Errorf("ATTACH of %s %s scanned DEFAULT despite CHECK (NOT (%s)):\n%s", table, b.SQL(), b.PartitionCheckSQL(key), got)
		}
	}

	// A new local partition that rows of DEFAULT move into is attached without a scan of
	// them (AttachNewPartition holds its bound as a CHECK meanwhile, and drops it after).
	mustExec(t, db, `INSERT INTO tweets SELECT g, 'mars' FROM generate_series(1, 100) g`)
	parent, err := ReadTable(t.Context(), db, "public", "tweets")
	if err != nil {
		t.Fatal(err)
	}
	mars := Partition{Schema: "public", Name: "tweets_mars", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"mars"}}}
	take()
	err = inTx(t.Context(), db, func(tx *sql.Tx) error {
		n, err := attachNewPartition(t.Context(), tx, mars, parent, true, false)
		if err == nil && n != 100 {
			err = fmt.Errorf("%d rows moved, want 100", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := take()
	// ("verifying table" comes too, from adding the CHECK while the table was still empty.)
	if !strings.Contains(got, `partition constraint for table "tweets_mars" is implied by existing constraints`) {
		t.Errorf("the ATTACH of a new local partition scanned the rows moved into it:\n%s", got)
	}
	expectCount(t, db, 100, `SELECT count(*) FROM ONLY tweets_mars`)
	expectCount(t, db, 0, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'tweets_mars'::regclass`)
	// The plain CheckSQL lets NULL keys through, so PostgreSQL cannot skip the scan with it:
	// the reason PartitionCheckSQL exists.
	b := Bound{In: []string{"scanned"}}
	mustExec(t, db, `ALTER TABLE tweets_default ADD CONSTRAINT f_plain CHECK (NOT (`+b.PartitionCheckSQL(key)+`))`)
	mustExec(t, db, `CREATE TABLE held_plain (id int, "lo""c" text, CONSTRAINT c CHECK (`+b.CheckSQL(key)+`))`)
	take()
	mustExec(t, db, `ALTER TABLE tweets ATTACH PARTITION held_plain `+b.SQL())
	if got := take(); !strings.Contains(got, `verifying table "held_plain"`) {
		t.Errorf("ATTACH with CHECK (%s) did not scan: the test no longer tells the two apart:\n%s", b.CheckSQL(key), got)
	}
}

// A partition created without moving rows, over a DEFAULT partition holding other rows, is
// created without a scan of DEFAULT under the lock: DEFAULT's move constraint, validated
// first (a scan that blocks nobody), proves that DEFAULT holds none of its rows. DEFAULT
// holding one is refused with a message that says what to do, and nothing changes.
func TestCreateWithoutMovesSparesTheDefaultScan(t *testing.T) {
	db, take := debugSession(t)
	mustExec(t, db, `CREATE TABLE tweets (id int, location text) PARTITION BY LIST (location)`)
	mustExec(t, db, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, db, `INSERT INTO tweets SELECT g, 'mars' FROM generate_series(1, 1000) g`)
	parent, err := ReadTable(t.Context(), db, "public", "tweets")
	if err != nil {
		t.Fatal(err)
	}
	take()
	europe := Partition{Schema: "public", Name: "tweets_europe", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"europe"}}}
	if err := CreateLocalPartition(t.Context(), db, europe, parent, false); err != nil {
		t.Fatal(err)
	}
	if got := take(); !strings.Contains(got, `updated partition constraint for default partition "tweets_default" is implied by existing constraints`) {
		t.Errorf("the create of a local partition scanned DEFAULT under its lock:\n%s", got)
	}
	expectCount(t, db, 0, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'tweets_default'::regclass`)
	mustExec(t, db, `INSERT INTO tweets VALUES (2000, 'europe')`)
	expectCount(t, db, 1, `SELECT count(*) FROM ONLY tweets_europe`)

	// The same through the ATTACH of a partition created detached (the foreign partitions' way).
	asia := Partition{Schema: "public", Name: "tweets_asia", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"asia"}}}
	err = fencedCreate(t.Context(), db, asia, parent, false, func() error {
		return inTx(t.Context(), db, func(tx *sql.Tx) error {
			_, err := attachNewPartition(t.Context(), tx, asia, parent, false, false)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := take(); !strings.Contains(got, `updated partition constraint for default partition "tweets_default" is implied by existing constraints`) {
		t.Errorf("the attach of a new partition scanned DEFAULT under its lock:\n%s", got)
	}
	expectCount(t, db, 0, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'tweets_default'::regclass`)

	// DEFAULT holding a row of the bound: refused, naming the fix; no partition, no constraint.
	mars := Partition{Schema: "public", Name: "tweets_mars", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"mars"}}}
	err = CreateLocalPartition(t.Context(), db, mars, parent, false)
	if err == nil || !strings.Contains(err.Error(), "move_rows_from_default") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("create over DEFAULT rows of the bound: %v", err)
	}
	expectCount(t, db, 0, `SELECT count(*) FROM pg_class WHERE relname = 'tweets_mars'`)
	expectCount(t, db, 0, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'tweets_default'::regclass`)
	expectCount(t, db, 1000, `SELECT count(*) FROM ONLY tweets_default`)
}

// debugSession opens one session (a pool of one connection) on a new database of the base
// cluster with client_min_messages = debug1, and take, which returns PostgreSQL's messages
// since its last call: "verifying table" when an ATTACH scans, "... is implied by existing
// constraints" when a constraint spares it the scan.
func debugSession(t *testing.T) (*sql.DB, func() string) {
	t.Helper()
	env := postgrestest.Shared(t)
	name := uniqueName(t)
	if err := env.Base.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notices []string
	connector, err := pq.NewConnector(env.Base.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(pq.ConnectorWithNoticeHandler(connector, func(e *pq.Error) {
		mu.Lock()
		defer mu.Unlock()
		notices = append(notices, e.Message)
	}))
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	mustExec(t, db, `SET client_min_messages = debug1`)
	return db, func() string {
		mu.Lock()
		defer mu.Unlock()
		got := strings.Join(notices, "\n")
		notices = nil
		return got
	}
}
