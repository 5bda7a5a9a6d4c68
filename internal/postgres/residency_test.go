package postgres

import (
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestResidencyCheckSQL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound Bound
		key   []string
		want  string
	}{
		{"list", Bound{In: []string{"europe", "eu"}}, []string{`"location"`}, `"location" IN ('europe', 'eu')`},
		{"list with NULL", Bound{In: []string{"x", NullValue}}, []string{`"k"`}, `"k" IN ('x') OR "k" IS NULL`},
		{"range", Bound{From: []string{"1"}, To: []string{"10"}}, []string{`"n"`}, `("n") IS NOT NULL AND ("n" >= '1' AND "n" < '10')`},
		{"range over two columns", Bound{From: []string{"0", "0"}, To: []string{"2", "MAXVALUE"}}, []string{`"a"`, `"b"`},
			`("a") IS NOT NULL AND ("b") IS NOT NULL AND (ROW("a", "b") >= ROW('0', '0') AND "a" <= '2')`},
		{"hash", Bound{Modulus: 4, Remainder: 3}, []string{`"id"`, `(lower(name))`}, `satisfies_hash_partition(16384::oid, 4, 3, "id", (lower(name)))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := residencyCheck(tc.bound, tc.key, 16384)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
	if _, err := residencyCheck(Bound{Default: true}, []string{`"k"`}, 1); err == nil {
		t.Error("DEFAULT has no condition")
	}
	if _, err := residencyCheck(Bound{From: []string{"1"}, To: []string{"2"}}, []string{`"a"`, `"b"`}, 1); err == nil {
		t.Error("a range bound shorter than the key has no condition")
	}
}

func residency(t *testing.T, db *sql.DB, parent string) *ResidencyCheck {
	t.Helper()
	c, err := CheckResidency(t.Context(), db, "public", parent)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// counts is a check's partitions as "name rows/outside" and its DEFAULT rows claimed.
func counts(c *ResidencyCheck) []string {
	var out []string
	for _, p := range c.Partitions {
		out = append(out, p.Name+" "+itoa(int(p.Rows))+"/"+itoa(int(p.RowsOutsideBound)))
	}
	return append(out, "claimed "+itoa(int(c.DefaultRowsClaimed)))
}

func expectCounts(t *testing.T, c *ResidencyCheck, ok bool, want ...string) {
	t.Helper()
	if got := counts(c); !reflect.DeepEqual(got, want) || c.OK() != ok {
		t.Fatalf("residency %q ok=%v\nwant %q ok=%v", got, c.OK(), want, ok)
	}
}

// remoteSQL is the SQL postgres_fdw sends for a query, from EXPLAIN VERBOSE.
func remoteSQL(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN (VERBOSE, COSTS OFF) "+query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var remote []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		if _, sql, ok := strings.Cut(line, "Remote SQL: "); ok {
			remote = append(remote, sql)
		}
	}
	return strings.Join(remote, "\n")
}

// A shard holding rows its bound does not admit, a NULL key among them, is counted on the
// shard: postgres_fdw sends the whole count, FILTER included, and the result agrees with
// the same count made on the base.
func TestCheckResidencyForeignPartition(t *testing.T) {
	base, shard := shardFixture(t)
	mustExec(t, shard, `CREATE TABLE europe_tweets (id int, location text)`)
	mustExec(t, base, `CREATE TABLE tweets (id int, location text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE FOREIGN TABLE europe_tweets PARTITION OF tweets FOR VALUES IN ('europe') SERVER europe OPTIONS (table_name 'europe_tweets')`)
	mustExec(t, base, `CREATE TABLE us_tweets PARTITION OF tweets FOR VALUES IN ('usa')`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, base, `INSERT INTO tweets VALUES (1, 'europe'), (2, 'europe'), (3, 'usa'), (4, 'mars'), (5, NULL)`)
	expectCounts(t, residency(t, base, "tweets"), true, "europe_tweets 2/0", "tweets_default 2/0", "us_tweets 1/0", "claimed 0")

	mustExec(t, shard, `INSERT INTO europe_tweets VALUES (6, 'usa'), (7, NULL)`)
	c := residency(t, base, "tweets")
	expectCounts(t, c, false, "europe_tweets 4/2", "tweets_default 2/0", "us_tweets 1/0", "claimed 0")
	if p := c.Partitions[0]; !p.Foreign || p.Server != "europe" || p.Bound != "FOR VALUES IN ('europe')" || p.IsDefault {
		t.Fatalf("europe_tweets read as %+v", p)
	}
	if p := c.Partitions[1]; p.Foreign || p.Server != "" || p.Bound != "DEFAULT" || !p.IsDefault {
		t.Fatalf("tweets_default read as %+v", p)
	}

	check, _ := residencyCheck(Bound{In: []string{"europe"}}, []string{`"location"`}, 0)
	count := `SELECT count(*), count(*) FILTER (WHERE ` + outside(check) + `) FROM ONLY "public"."europe_tweets"`
	if remote := remoteSQL(t, base, count); !strings.HasPrefix(remote, "SELECT count(*), count(*) FILTER (WHERE") {
		t.Fatalf("the count should run on the shard; remote SQL: %s", remote)
	}
	var local int
	if err := base.QueryRow(`SELECT count(*) FROM (SELECT location FROM ONLY europe_tweets OFFSET 0) r WHERE location IS DISTINCT FROM 'europe'`).Scan(&local); err != nil || local != 2 {
		t.Fatalf("counted on the base: %d %v", local, err)
	}
}

// A DEFAULT partition that is a foreign table is never validated by PostgreSQL: rows put on
// its shard directly may belong to another partition, and are counted as claimed.
func TestCheckResidencyForeignDefault(t *testing.T) {
	base, shard := shardFixture(t)
	mustExec(t, shard, `CREATE TABLE rest (id int, location text)`)
	mustExec(t, base, `CREATE TABLE tweets (id int, location text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE us_tweets PARTITION OF tweets FOR VALUES IN ('usa')`)
	mustExec(t, base, `CREATE TABLE nulls PARTITION OF tweets FOR VALUES IN (NULL)`)
	mustExec(t, base, `CREATE FOREIGN TABLE rest PARTITION OF tweets DEFAULT SERVER europe OPTIONS (table_name 'rest')`)
	mustExec(t, base, `INSERT INTO tweets VALUES (1, 'usa'), (2, 'mars'), (3, NULL)`)
	expectCounts(t, residency(t, base, "tweets"), true, "nulls 1/0", "rest 1/0", "us_tweets 1/0", "claimed 0")

	mustExec(t, shard, `INSERT INTO rest VALUES (4, 'usa'), (5, NULL), (6, 'venus')`)
	c := residency(t, base, "tweets")
	expectCounts(t, c, false, "nulls 1/0", "rest 4/0", "us_tweets 1/0", "claimed 2")
	if !c.Partitions[1].Foreign || !c.Partitions[1].IsDefault {
		t.Fatalf("rest read as %+v", c.Partitions[1])
	}
}

// A RANGE partition never holds a key with a NULL column, even where a row comparison would
// admit it: such a row in DEFAULT is where it belongs.
func TestCheckResidencyRangeNulls(t *testing.T) {
	db := freshDB(t)
	mustExec(t, db, `CREATE TABLE readings (a int, b int) PARTITION BY RANGE (a, b)`)
	mustExec(t, db, `CREATE TABLE low PARTITION OF readings FOR VALUES FROM (0, 0) TO (2, 0)`)
	mustExec(t, db, `CREATE TABLE high PARTITION OF readings FOR VALUES FROM (2, 0) TO (MAXVALUE, MAXVALUE)`)
	mustExec(t, db, `CREATE TABLE other PARTITION OF readings DEFAULT`)
	mustExec(t, db, `INSERT INTO readings VALUES (1, 5), (1, NULL), (NULL, 1), (3, 3), (-1, 0)`)
	expectCounts(t, residency(t, db, "readings"), true, "high 1/0", "low 1/0", "other 3/0", "claimed 0")
}

// A partition key over a function that was declared IMMUTABLE and then redefined leaves
// local rows outside their bound and DEFAULT rows that another partition claims.
func TestCheckResidencyRedefinedKeyFunction(t *testing.T) {
	db := freshDB(t)
	mustExec(t, db, `CREATE FUNCTION region(country text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT CASE country WHEN 'fr' THEN 'europe' WHEN 'us' THEN 'usa' END $$`)
	mustExec(t, db, `CREATE TABLE users (id int, country text) PARTITION BY LIST (region(country))`)
	mustExec(t, db, `CREATE TABLE europe PARTITION OF users FOR VALUES IN ('europe')`)
	mustExec(t, db, `CREATE TABLE usa PARTITION OF users FOR VALUES IN ('usa')`)
	mustExec(t, db, `CREATE TABLE other PARTITION OF users DEFAULT`)
	mustExec(t, db, `INSERT INTO users VALUES (1, 'fr'), (2, 'us'), (3, 'ca'), (4, 'ca')`)
	expectCounts(t, residency(t, db, "users"), true, "europe 1/0", "other 2/0", "usa 1/0", "claimed 0")

	mustExec(t, db, `CREATE OR REPLACE FUNCTION region(country text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT CASE country WHEN 'fr' THEN 'europe' WHEN 'us' THEN 'usa' WHEN 'ca' THEN 'usa' END $$`)
	expectCounts(t, residency(t, db, "users"), false, "europe 1/0", "other 2/0", "usa 1/0", "claimed 2")
	mustExec(t, db, `CREATE OR REPLACE FUNCTION region(country text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT 'usa' $$`)
	expectCounts(t, residency(t, db, "users"), false, "europe 1/1", "other 2/0", "usa 1/0", "claimed 2")
}

// HASH partitions are checked with PostgreSQL's own hash, on the base: the parent's OID
// never reaches the shard.
func TestCheckResidencyHash(t *testing.T) {
	base, shard := shardFixture(t)
	mustExec(t, shard, `CREATE TABLE even (id int, body text)`)
	mustExec(t, base, `CREATE TABLE events (id int, body text) PARTITION BY HASH (id)`)
	mustExec(t, base, `CREATE FOREIGN TABLE even PARTITION OF events FOR VALUES WITH (MODULUS 2, REMAINDER 0) SERVER europe OPTIONS (table_name 'even')`)
	mustExec(t, base, `CREATE TABLE odd PARTITION OF events FOR VALUES WITH (MODULUS 2, REMAINDER 1)`)
	mustExec(t, base, `INSERT INTO events SELECT g, 'x' FROM generate_series(1, 20) g`)
	mustExec(t, base, `INSERT INTO events VALUES (NULL, 'null key')`)
	var even, odd int64
	if err := base.QueryRow(`SELECT (SELECT count(*) FROM even), (SELECT count(*) FROM odd)`).Scan(&even, &odd); err != nil {
		t.Fatal(err)
	}
	expectCounts(t, residency(t, base, "events"), true, "even "+itoa(int(even))+"/0", "odd "+itoa(int(odd))+"/0", "claimed 0")

	// Write ids 1 to 20 on the shard directly: those that hash to the other partition are outside.
	mustExec(t, shard, `INSERT INTO even SELECT g, 'direct' FROM generate_series(1, 20) g`)
	var stray int64
	if err := base.QueryRow(`SELECT count(*) FROM generate_series(1, 20) g WHERE NOT satisfies_hash_partition('events'::regclass, 2, 0, g)`).Scan(&stray); err != nil || stray == 0 {
		t.Fatalf("ids hashing to the other partition: %d %v", stray, err)
	}
	expectCounts(t, residency(t, base, "events"), false, "even "+itoa(int(even+20))+"/"+itoa(int(stray)), "odd "+itoa(int(odd))+"/0", "claimed 0")

	var oid uint32
	if err := base.QueryRow(`SELECT 'events'::regclass::oid`).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	check, _ := residencyCheck(Bound{Modulus: 2}, []string{`"id"`}, oid)
	query := `SELECT count(*) FILTER (WHERE ` + outside(check) + `) FROM (SELECT * FROM ONLY "public"."even" OFFSET 0) AS "even"`
	if remote := remoteSQL(t, base, query); strings.Contains(remote, "satisfies_hash_partition") || !strings.Contains(remote, "SELECT id FROM") {
		t.Fatalf("the hash must be computed on the base; remote SQL: %s", remote)
	}
}

// A partition that is partitioned itself counts the rows of its whole tree.
func TestCheckResidencySubpartitioned(t *testing.T) {
	db := freshDB(t)
	mustExec(t, db, `CREATE TABLE m (region text, day int) PARTITION BY LIST (region)`)
	mustExec(t, db, `CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu') PARTITION BY RANGE (day)`)
	mustExec(t, db, `CREATE TABLE m_eu_1 PARTITION OF m_eu FOR VALUES FROM (0) TO (10)`)
	mustExec(t, db, `CREATE TABLE m_eu_2 PARTITION OF m_eu FOR VALUES FROM (10) TO (20)`)
	mustExec(t, db, `INSERT INTO m VALUES ('eu', 1), ('eu', 15), ('eu', 16)`)
	expectCounts(t, residency(t, db, "m"), true, "m_eu 3/0", "claimed 0")
}

func TestCheckResidencyRefusesOthers(t *testing.T) {
	db := freshDB(t)
	mustExec(t, db, `CREATE TABLE plain (id int)`)
	if _, err := CheckResidency(t.Context(), db, "public", "plain"); err == nil || !strings.Contains(err.Error(), "not a partitioned table") {
		t.Fatalf("plain table: %v", err)
	}
	if _, err := CheckResidency(t.Context(), db, "public", "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing table: %v", err)
	}
	// A parent without partitions checks fine.
	mustExec(t, db, `CREATE TABLE empty (id int) PARTITION BY LIST (id)`)
	expectCounts(t, residency(t, db, "empty"), true, "claimed 0")
}
