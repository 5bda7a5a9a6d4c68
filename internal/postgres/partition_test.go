package postgres

import (
	"database/sql"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

var tweetColumns = []Column{
	{Name: "id", Type: "serial"},
	{Name: "location", Type: "varchar", NotNull: true},
	{Name: "text", Type: "text", Default: "''"},
	{Name: "owner_id", Type: "int8"},
	{Name: "like_count", Type: "int4", NotNull: true, Default: "0"},
}

// shardFixture: a base database with postgres_fdw and dblink, and a shard database on
// another cluster reached through server "europe".
func shardFixture(t *testing.T) (base, shard *sql.DB) {
	t.Helper()
	env := postgrestest.Shared(t)
	base = freshDB(t, "postgres_fdw", "dblink")
	shardName := uniqueName(t) + "_shard"
	if err := env.Shard1.CreateDatabase(t.Context(), shardName); err != nil {
		t.Fatal(err)
	}
	shard, err := env.Shard1.Open(shardName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shard.Close() })
	mustExec(t, base, "CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw"+CreateOptionsClause(map[string]string{
		"host": env.Shard1.Host, "port": itoa(env.Shard1.Port), "dbname": shardName}))
	mustExec(t, base, "CREATE USER MAPPING FOR CURRENT_USER SERVER europe"+CreateOptionsClause(map[string]string{
		"user": env.Shard1.User, "password": env.Shard1.Password}))
	return base, shard
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestShardedTableEndToEnd(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	parent := Table{Schema: "public", Name: "tweets", Columns: tweetColumns, PartitionBy: &PartitionKey{Strategy: "list", Key: []string{"location"}}}
	if err := CreateTable(ctx, base, parent); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTable(ctx, base, "public", "tweets")
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != "p" || !reflect.DeepEqual(got.PartitionBy, parent.PartitionBy) {
		t.Fatalf("read %+v", got)
	}
	for i, c := range got.Columns {
		want := tweetColumns[i]
		if c.Name != want.Name || !sameType(c.Type, want.Type) || !sameExpression(c.Default, want.Default) || c.NotNull != (want.NotNull || want.Type == "serial") {
			t.Errorf("column %d read back as %+v, want %+v", i, c, want)
		}
	}

	eu := Partition{Schema: "public", Name: "europe_tweets", ParentSchema: "public", ParentName: "tweets", Foreign: true,
		Server: "europe", Bound: Bound{In: []string{"europe"}}, Options: map[string]string{"schema_name": "public", "table_name": "europe_tweets"}}
	key := KeySQL(parent.PartitionBy.Key)
	if err := createShardTable(ctx, base, ShardTable{Server: "europe", Schema: "public", Name: "europe_tweets", Columns: got.Columns,
		CheckName: "europe_tweets_bound", Check: eu.Bound.CheckSQL(key), Identity: &Identity{Column: "id", Start: 2, Increment: 16}}); err != nil {
		t.Fatal(err)
	}
	remote, exists, err := readShardColumns(ctx, base, "europe", "public", "europe_tweets")
	if err != nil || !exists {
		t.Fatalf("remote columns: %v %v", exists, err)
	}
	if err := checkShardColumns(got.Columns, remote); err != nil {
		t.Fatal(err)
	}
	if err := inTx(ctx, base, func(tx *sql.Tx) error {
		if err := createPartition(ctx, tx, eu); err != nil {
			return err
		}
		return verifyForeignColumns(ctx, tx, "public", "europe_tweets", got.Columns)
	}); err != nil {
		t.Fatal(err)
	}
	def := Partition{Schema: "public", Name: "tweets_default", ParentSchema: "public", ParentName: "tweets", Bound: Bound{Default: true}}
	if err := createPartition(ctx, base, def); err != nil {
		t.Fatal(err)
	}

	// Rows land where they belong.
	mustExec(t, base, `INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('mars', 'hi')`)
	var n int
	if err := shard.QueryRow(`SELECT count(*) FROM europe_tweets WHERE text = 'hallo'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("europe row on shard: %d %v", n, err)
	}
	if err := base.QueryRow(`SELECT count(*) FROM ONLY tweets_default WHERE location = 'mars'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("mars row in default: %d %v", n, err)
	}
	// A direct insert on the shard gets an identity id from its own series.
	var id int64
	if err := shard.QueryRow(`INSERT INTO europe_tweets (location, text, like_count) VALUES ('europe', 'direct', 0) RETURNING id`).Scan(&id); err != nil || id != 2 {
		t.Fatalf("direct insert id %d, %v", id, err)
	}
	// The shard refuses rows of another region.
	if _, err := shard.Exec(`UPDATE europe_tweets SET location = 'usa'`); err == nil || !strings.Contains(err.Error(), "europe_tweets_bound") {
		t.Fatalf("update to another region should violate the bound check: %v", err)
	}

	// Read back the partitions.
	p, err := ReadPartition(ctx, base, "public", "europe_tweets")
	if err != nil || !p.Foreign || p.Server != "europe" || p.ParentName != "tweets" || !reflect.DeepEqual(p.Bound, eu.Bound) {
		t.Fatalf("read partition %+v %v", p, err)
	}
	list, err := ListPartitions(ctx, base, "public", "tweets")
	if err != nil || len(list) != 2 || list[0].Name != "europe_tweets" || !list[1].IsDefault {
		t.Fatalf("list %+v %v", list, err)
	}

	// A bound change keeps the rows.
	if err := inTx(ctx, base, func(tx *sql.Tx) error {
		return changeBound(ctx, tx, *p, Bound{In: []string{"europe", "eu"}})
	}); err != nil {
		t.Fatal(err)
	}
	if err := base.QueryRow(`SELECT count(*) FROM tweets WHERE location = 'europe'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("europe rows after bound change: %d %v", n, err)
	}

	// DEFAULT rows block a new partition for their value; they are counted.
	defName, count, err := DefaultRowsMatching(ctx, base, got, Bound{In: []string{"mars"}})
	if err != nil || count != 1 || defName != "public.tweets_default" {
		t.Fatalf("default rows matching: %s %d %v", defName, count, err)
	}

	// Dropping the parent refuses while DEFAULT holds rows, and keeps shard data when forced.
	err = DropTable(ctx, base, "public", "tweets", false)
	var held *LossError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), "public.tweets_default (1 rows)") {
		t.Fatalf("drop without force: %v", err)
	}
	if err := DropTable(ctx, base, "public", "tweets", true); err != nil {
		t.Fatal(err)
	}
	if err := shard.QueryRow(`SELECT count(*) FROM europe_tweets`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("shard rows after dropping the parent: %d %v", n, err)
	}
}

func TestVerifyForeignColumnsNamesMissing(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, shard, `CREATE TABLE partial (id int, location text)`)
	mustExec(t, base, `CREATE TABLE p (id int, location text, body text, likes int) PARTITION BY LIST (location)`)
	err := inTx(ctx, base, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`CREATE FOREIGN TABLE partial PARTITION OF p FOR VALUES IN ('x') SERVER europe`); err != nil {
			return err
		}
		return verifyForeignColumns(ctx, tx, "public", "partial", []Column{{Name: "id"}, {Name: "location"}, {Name: "body"}, {Name: "likes"}})
	})
	if err == nil || !strings.Contains(err.Error(), `missing columns "body", "likes"`) {
		t.Fatalf("want missing body and likes, got %v", err)
	}
	// The failed transaction left nothing behind.
	if _, err := ReadPartition(ctx, base, "public", "partial"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("foreign table left behind: %v", err)
	}
	remote, _, err := readShardColumns(ctx, base, "europe", "public", "partial")
	if err != nil {
		t.Fatal(err)
	}
	err = checkShardColumns([]Column{{Name: "id", Type: "int8"}, {Name: "location", Type: "text"}, {Name: "body", Type: "text"}}, remote)
	if err == nil || !strings.Contains(err.Error(), `missing columns "body" (text)`) || !strings.Contains(err.Error(), `"id" is integer on the shard but int8`) {
		t.Fatalf("CheckRemoteColumns: %v", err)
	}
}

func TestAlterColumns(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	tbl := Table{Schema: "public", Name: "plain", Columns: []Column{{Name: "id", Type: "int4"}, {Name: "name", Type: "varchar(20)"}, {Name: "gone", Type: "text"}}, PrimaryKey: []string{"id"}}
	if err := CreateTable(ctx, db, tbl); err != nil {
		t.Fatal(err)
	}
	to := []Column{{Name: "id", Type: "integer", NotNull: true}, {Name: "name", Type: "text", NotNull: true, Default: "'x'"}, {Name: "added", Type: "numeric(10,2)", Default: "1.5"}}
	// Both sides in the server's form, as the provider compares them: int4 is integer.
	cur, err := ReadTable(ctx, db, "public", "plain")
	if err != nil {
		t.Fatal(err)
	}
	canonical, err := CanonicalColumns(ctx, db, to)
	if err != nil {
		t.Fatal(err)
	}
	clauses, err := alterColumnsSQL(cur.Columns, canonical)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`ALTER COLUMN "name" TYPE text`, `ALTER COLUMN "name" SET DEFAULT ('x'::text)`, `ALTER COLUMN "name" SET NOT NULL`, `ADD COLUMN "added" numeric(10,2) DEFAULT (1.5)`, `DROP COLUMN "gone"`}
	if !reflect.DeepEqual(clauses, want) {
		t.Fatalf("clauses\n got %q\nwant %q", clauses, want)
	}
	if err := inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := alterColumns(ctx, tx, "public", "plain", tbl.Columns, to, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTable(ctx, db, "public", "plain")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Columns) != 3 || got.Columns[1].Type != "text" || got.Columns[1].Default != "'x'::text" || got.Columns[2].Type != "numeric(10,2)" || !reflect.DeepEqual(got.PrimaryKey, []string{"id"}) {
		t.Fatalf("after alter: %+v", got)
	}
	if err := inTx(ctx, db, func(tx *sql.Tx) error {
		return setPrimaryKey(ctx, tx, "public", "plain", got.Columns, got.Columns, []string{"id"}, []string{"id", "name"}, false)
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadTable(ctx, db, "public", "plain")
	if !reflect.DeepEqual(got.PrimaryKey, []string{"id", "name"}) {
		t.Fatalf("primary key %v", got.PrimaryKey)
	}
}

func TestParsePartitionKey(t *testing.T) {
	cases := map[string]PartitionKey{
		"LIST (location)":                {Strategy: "list", Key: []string{"location"}},
		`RANGE ("Created At", id)`:       {Strategy: "range", Key: []string{"Created At", "id"}},
		"LIST (lower((location)::text))": {Strategy: "list", Key: []string{"(lower((location)::text))"}},
		"HASH (id)":                      {Strategy: "hash", Key: []string{"id"}},
	}
	for def, want := range cases {
		got, err := parsePartitionKey(def)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("ParsePartitionKey(%q) = %+v, %v", def, got, err)
		}
	}
}

func TestAttachNewPartitionMovesDefaultRows(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE ev (id int NOT NULL, region text DEFAULT 'x') PARTITION BY LIST (region)`)
	mustExec(t, db, `CREATE TABLE ev_default PARTITION OF ev DEFAULT`)
	mustExec(t, db, `INSERT INTO ev VALUES (1, 'asia'), (2, 'asia'), (3, 'mars')`)
	parent, err := ReadTable(ctx, db, "public", "ev")
	if err != nil {
		t.Fatal(err)
	}
	p := Partition{Schema: "public", Name: "ev_asia", ParentSchema: "public", ParentName: "ev", Bound: Bound{In: []string{"asia"}}}
	var moved int64
	if err := inTx(ctx, db, func(tx *sql.Tx) error {
		moved, err = attachNewPartition(ctx, tx, p, parent, true, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if moved != 2 {
		t.Fatalf("moved %d rows, want 2", moved)
	}
	expectCount(t, db, 2, `SELECT count(*) FROM ONLY ev_asia`)
	expectCount(t, db, 1, `SELECT count(*) FROM ONLY ev_default`)
	expectCount(t, db, 3, `SELECT count(DISTINCT id) FROM ev`)
	got, err := ReadPartition(ctx, db, "public", "ev_asia")
	if err != nil || got.ParentName != "ev" || !reflect.DeepEqual(got.Bound.In, []string{"asia"}) {
		t.Fatalf("attached partition %+v %v", got, err)
	}
	// HASH bounds cannot move rows.
	if err := inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := attachNewPartition(ctx, tx, Partition{Schema: "public", Name: "h", ParentSchema: "public", ParentName: "ev", Bound: Bound{Modulus: 2}}, parent, true, false)
		return err
	}); err == nil {
		t.Fatal("a hash bound should be refused")
	}
}

func TestForeignPartitionsLagging(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, shard, `CREATE TABLE eu (id int, location text)`)
	mustExec(t, base, `CREATE TABLE p (id int, location text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF p FOR VALUES IN ('europe') SERVER europe`)
	mustExec(t, base, `CREATE TABLE p_default PARTITION OF p DEFAULT`)
	parent, err := ReadTable(ctx, base, "public", "p")
	if err != nil {
		t.Fatal(err)
	}
	if lagging, err := foreignPartitionsLagging(ctx, base, parent); err != nil || len(lagging) != 0 {
		t.Fatalf("nothing should lag yet: %v %v", lagging, err)
	}
	// The change itself says which shard tables lag: eu is not managed (no bound CHECK).
	to := Table{Schema: "public", Name: "p", Columns: append(parent.Columns, Column{Name: "lang", Type: "text"})}
	change, err := AlterPartitionedTable(ctx, base, "public", "p", to, false)
	lagging := change.Lagging
	if err != nil || len(lagging) != 1 || !strings.Contains(lagging[0], `public.eu (server europe)`) || !strings.Contains(lagging[0], `missing columns "lang"`) {
		t.Fatalf("lagging = %q, %v", lagging, err)
	}
	// A change that alters nothing reports nothing.
	if change, err := AlterPartitionedTable(ctx, base, "public", "p", to, false); err != nil || len(change.Lagging) != 0 || !change.Empty() {
		t.Fatalf("no-op change: %+v, %v", change, err)
	}
}
