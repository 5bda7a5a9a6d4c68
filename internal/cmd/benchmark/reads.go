package main

// Cross-shard reads. tweets is LIST (location), each region a foreign partition on
// its own shard database, each database reached through its own proxy adding readLatency to
// every round trip (two foreign servers, far away), and a local DEFAULT. users is partitioned
// the same way, so a join on location can go to each shard whole; tiered holds the same rows
// in monthly periods, recent ones local (hot) and older ones foreign (cold). Each query is
// timed with PostgreSQL's defaults, with the settings pgshard recommends, and with one of
// those settings changed at a time.

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"log"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

const (
	readLatency = 20 * time.Millisecond
	readUsers   = 1000 // per region; tweet g belongs to user 1 + g % readUsers
	readLangs   = 50   // user u speaks lang_(u % readLangs)
	readRuns    = 5
	// A configuration whose warm-up run takes longer is timed by that run alone: five more
	// would cost minutes, and what it is compared with differs from it by far more than noise.
	readSlowRun = 5 * time.Second
)

var readRegions = []string{"europe", "usa"}

// readConfig is one set of the settings a cross-shard read depends on: the partitionwise
// GUCs of the querying session and postgres_fdw's options on both servers.
type readConfig struct {
	label          string
	aggregate      bool // enable_partitionwise_aggregate
	join           bool // enable_partitionwise_join
	async          bool
	fetch          int
	remoteEstimate bool
	parallelCommit bool
	tupleCost      string // fdw_tuple_cost
}

var (
	readDefaults = readConfig{label: "PostgreSQL defaults", fetch: 100, tupleCost: "0.01"}
	readTuned    = readConfig{label: "tuned", aggregate: true, join: true, async: true, fetch: 1000, tupleCost: "0.01"}
	// readRecommended is tuned with what the settings below tuned's show to pay.
	readRecommended = readTuned.with("recommended: tuned + fetch_size 10000, parallel_commit, fdw_tuple_cost 1", func(c *readConfig) {
		c.fetch, c.parallelCommit, c.tupleCost = 10000, true, "1"
	})
	readRecommendedNoAggregate = readRecommended.with("recommended, enable_partitionwise_aggregate off", func(c *readConfig) { c.aggregate = false })
)

// with is c under another label, changed by change.
func (c readConfig) with(label string, change func(*readConfig)) readConfig {
	c.label = label
	if change != nil {
		change(&c)
	}
	return c
}

// readUnanalyzed are measured first, while the foreign partitions have never been analyzed:
// autovacuum never analyzes foreign tables, so that is how PostgreSQL leaves them.
func readUnanalyzed() []readConfig {
	return []readConfig{
		readDefaults,
		readTuned.with("never analyzed", nil),
		readTuned.with("never analyzed, + use_remote_estimate", func(c *readConfig) { c.remoteEstimate = true }),
	}
}

// readAnalyzed are measured once every foreign partition is analyzed: tuned, then each of
// its settings changed alone.
func readAnalyzed() []readConfig {
	return []readConfig{
		readTuned,
		readTuned.with("enable_partitionwise_aggregate off", func(c *readConfig) { c.aggregate = false }),
		readTuned.with("enable_partitionwise_join off", func(c *readConfig) { c.join = false }),
		readTuned.with("async_capable false", func(c *readConfig) { c.async = false }),
		readTuned.with("fetch_size 10000", func(c *readConfig) { c.fetch = 10000 }),
		readTuned.with("+ use_remote_estimate", func(c *readConfig) { c.remoteEstimate = true }),
		readTuned.with("+ parallel_commit", func(c *readConfig) { c.parallelCommit = true }),
		// fdw_tuple_cost is what the planner charges per row a shard sends (default 0.01, as
		// if the shard were next door): 20 ms per fetch_size rows is nearer 1.
		readTuned.with("+ fdw_tuple_cost 0.1", func(c *readConfig) { c.tupleCost = "0.1" }),
		readTuned.with("+ fdw_tuple_cost 1", func(c *readConfig) { c.tupleCost = "1" }),
		readRecommended,
		readRecommendedNoAggregate,
	}
}

type readQuery struct {
	key, title, sql string
	args            []any
	moves           bool // its result moves with now(), so runs may differ
}

type readResult struct {
	took       time.Duration
	runs, rows int
	sum        uint64 // rowsChecksum
	plan       []string
}

// readResults are by configuration label, then query key.
type readResults map[string]map[string]readResult

type readAnalyzeKey struct {
	delay time.Duration
	fetch int
}

type readsBench struct {
	ctx     context.Context
	shard   *postgrestest.Cluster
	rows    int       // per region
	asOf    time.Time // the newest tweet; each region's tweets span the year before it
	hotFrom time.Time // tiered periods starting here or later are local, older ones foreign
	periods map[string][]postgres.Period
	proxies []*proxy // one per region, in readRegions' order
	db      *sql.DB
	conn    *sql.Conn // the one session every query runs in, so SET holds for all of them
	// shipped is the tuned plan of a "last 7 days" on tweets with now(), which is not timed.
	shipped []string
}

// benchReads builds the tables, measures every query in every configuration and ANALYZE's
// cost, and prints the tables and the plans.
func benchReads(ctx context.Context, base, shard *postgrestest.Cluster, rows int) error {
	b, err := newReadsBench(ctx, base, shard, rows)
	if err != nil {
		return err
	}
	defer b.close()
	start := time.Now()
	res, costs, err := b.run()
	if err != nil {
		return err
	}
	log.Printf("reads benchmark: measured in %s", time.Since(start).Round(time.Second))
	b.print(res, costs)
	return nil
}

func newReadsBench(ctx context.Context, base, shard *postgrestest.Cluster, rows int) (*readsBench, error) {
	now := time.Now().UTC().Truncate(time.Second)
	b := &readsBench{ctx: ctx, shard: shard, rows: max(rows/2, 1), asOf: now, hotFrom: readMonth(now).AddDate(0, -1, 0)}
	start := time.Now()
	if err := b.planPeriods(); err != nil {
		return nil, err
	}
	if err := b.loadShards(); err != nil {
		return nil, err
	}
	if err := b.buildBase(base); err != nil {
		b.close()
		return nil, err
	}
	log.Printf("reads benchmark: %d rows loaded in %s", 2*b.rows, time.Since(start).Round(time.Millisecond))
	return b, nil
}

func (b *readsBench) close() {
	if b.conn != nil {
		b.conn.Close()
	}
	if b.db != nil {
		b.db.Close()
	}
	for _, p := range b.proxies {
		p.close()
	}
}

// planPeriods names and bounds each region's monthly periods as pgshard_time_partitions
// would, from the month a year back (so every row has one) to one month ahead.
func (b *readsBench) planPeriods() error {
	month, _ := postgres.ParseInterval("1 month")
	first := readMonth(b.asOf).AddDate(-1, 0, 0)
	b.periods = map[string][]postgres.Period{}
	for _, r := range readRegions {
		plan, err := postgres.PlanPeriods(postgres.PeriodSpec{Parent: &postgres.Table{Schema: "public", Name: "tiered_" + r},
			Key: postgres.TimeKey{Column: "created_at", Type: "timestamptz"}, Interval: month, Start: &first, Premake: 1, AsOf: b.asOf}, nil, nil)
		if err != nil {
			return err
		}
		b.periods[r] = plan.Create
	}
	return nil
}

func (b *readsBench) cold(p postgres.Period) bool { return p.Start().Before(b.hotFrom) }

// loadShards fills each region's shard database on the shard itself, with generate_series:
// the load is not what is measured, and through postgres_fdw it would take minutes.
func (b *readsBench) loadShards() error {
	for i, r := range readRegions {
		db := "reads_" + r
		if err := b.shard.CreateDatabase(b.ctx, db); err != nil {
			return err
		}
		for _, s := range b.shardStatements(i, r) {
			if err := b.shard.Exec(b.ctx, db, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// shardStatements make region r's shard tables: its tweets (id the primary key, as a
// point lookup needs; an index on created_at for a time window), its users, and one table
// per cold period of tiered. VACUUM ANALYZE gives the shard's own planner what autovacuum
// would.
func (b *readsBench) shardStatements(i int, r string) []string {
	t, u := pq.QuoteIdentifier("tweets_"+r), pq.QuoteIdentifier("users_"+r)
	stmts := []string{
		"CREATE TABLE " + t + " (id bigint PRIMARY KEY, location text NOT NULL, user_id int NOT NULL, created_at timestamptz NOT NULL, body text)",
		"INSERT INTO " + t + " " + b.regionRows(i, r),
		"CREATE INDEX ON " + t + " (created_at)",
		"CREATE TABLE " + u + " (id int PRIMARY KEY, location text NOT NULL, name text NOT NULL, lang text NOT NULL)",
		fmt.Sprintf("INSERT INTO %s SELECT g, %s, 'user ' || g, 'lang_' || g %% %d FROM generate_series(1, %d) g", u, pq.QuoteLiteral(r), readLangs, readUsers),
	}
	for _, p := range b.periods[r] {
		if b.cold(p) {
			name := pq.QuoteIdentifier(p.Name)
			stmts = append(stmts, "CREATE TABLE "+name+" (LIKE "+t+" INCLUDING ALL)",
				fmt.Sprintf("INSERT INTO %s SELECT * FROM %s WHERE created_at >= %s AND created_at < %s", name, t, readTime(p.Start()), readTime(p.End())))
		}
	}
	return append(stmts, "VACUUM ANALYZE")
}

// regionRows selects region r's tweets: ids interleaved (2g in the first region, 2g - 1 in
// the second) so each id is in exactly one shard, one tweet every year / rows back from asOf.
func (b *readsBench) regionRows(i int, r string) string {
	return fmt.Sprintf(`SELECT 2 * g - %d AS id, %s AS location, 1 + g %% %d AS user_id,
	  %s - g * (interval '365 days' / %d) AS created_at, repeat('x', 40) AS body FROM generate_series(1, %d) g`,
		i, pq.QuoteLiteral(r), readUsers, readTime(b.asOf), b.rows, b.rows)
}

// buildBase makes the base database: the servers (each through its own proxy), the three
// partitioned tables with their foreign partitions, and the hot periods' rows.
func (b *readsBench) buildBase(base *postgrestest.Cluster) error {
	if err := b.openBase(base); err != nil {
		return err
	}
	stmts := []string{
		"CREATE EXTENSION postgres_fdw",
		"CREATE TABLE tweets (id bigint NOT NULL, location text NOT NULL, user_id int NOT NULL, created_at timestamptz NOT NULL, body text) PARTITION BY LIST (location)",
		"CREATE TABLE tweets_default PARTITION OF tweets DEFAULT",
		"CREATE TABLE users (id int NOT NULL, location text NOT NULL, name text NOT NULL, lang text NOT NULL) PARTITION BY LIST (location)",
		"CREATE TABLE users_default PARTITION OF users DEFAULT", // bounds equal tweets', as a partitionwise join needs
		"CREATE TABLE tiered (LIKE tweets) PARTITION BY LIST (location)",
		"CREATE TABLE tiered_default PARTITION OF tiered DEFAULT",
	}
	for i, r := range readRegions {
		stmts = append(stmts, b.regionStatements(i, r)...)
	}
	return b.exec(append(stmts, "VACUUM ANALYZE "+strings.Join(b.localTables(), ", "))...)
}

// openBase creates the base database, the proxies and the one session of the benchmark.
func (b *readsBench) openBase(base *postgrestest.Cluster) error {
	if err := base.CreateDatabase(b.ctx, "reads"); err != nil {
		return err
	}
	target := fmt.Sprintf("%s:%d", b.shard.Host, b.shard.Port)
	for range readRegions {
		p, err := startProxy(target)
		if err != nil {
			return err
		}
		b.proxies = append(b.proxies, p)
	}
	db, err := base.Open("reads")
	if err != nil {
		return err
	}
	b.db = db
	b.conn, err = db.Conn(b.ctx)
	return err
}

// regionStatements make region r's server and its partitions. The options the benchmark
// changes are spelled out at PostgreSQL's defaults (which behave as left out), so that
// configure can always SET them.
func (b *readsBench) regionStatements(i int, r string) []string {
	srv, in := pq.QuoteIdentifier(readServer(r)), " FOR VALUES IN ("+pq.QuoteLiteral(r)+") "
	opts := map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(b.proxies[i].port), "dbname": "reads_" + r,
		"async_capable": "false", "fetch_size": "100", "use_remote_estimate": "false", "parallel_commit": "false", "fdw_tuple_cost": "0.01"}
	stmts := []string{
		"CREATE SERVER " + srv + " FOREIGN DATA WRAPPER postgres_fdw" + postgres.CreateOptionsClause(opts),
		"CREATE USER MAPPING FOR CURRENT_USER SERVER " + srv + postgres.CreateOptionsClause(map[string]string{"user": b.shard.User, "password": b.shard.Password}),
		"CREATE FOREIGN TABLE " + pq.QuoteIdentifier("tweets_"+r) + " PARTITION OF tweets" + in + "SERVER " + srv,
		"CREATE FOREIGN TABLE " + pq.QuoteIdentifier("users_"+r) + " PARTITION OF users" + in + "SERVER " + srv,
		"CREATE TABLE " + pq.QuoteIdentifier("tiered_"+r) + " PARTITION OF tiered" + in + "PARTITION BY RANGE (created_at)",
	}
	for _, p := range b.periods[r] {
		stmts = append(stmts, b.periodStatements(r, p)...)
	}
	return append(stmts, fmt.Sprintf("INSERT INTO %s SELECT * FROM (%s) t WHERE created_at >= %s",
		pq.QuoteIdentifier("tiered_"+r), b.regionRows(i, r), readTime(b.hotFrom)))
}

// periodStatements make one period of tiered_r: a foreign table on r's server (its shard
// table of the same name) when cold, else a local table with an index on created_at, as
// the shard tables have.
func (b *readsBench) periodStatements(r string, p postgres.Period) []string {
	head := " " + pq.QuoteIdentifier(p.Name) + " PARTITION OF " + pq.QuoteIdentifier("tiered_"+r) + " " + p.Bound().SQL()
	if b.cold(p) {
		return []string{"CREATE FOREIGN TABLE" + head + " SERVER " + pq.QuoteIdentifier(readServer(r))}
	}
	return []string{"CREATE TABLE" + head, "CREATE INDEX ON " + pq.QuoteIdentifier(p.Name) + " (created_at)"}
}

// localTables are the base's leaf tables, which autovacuum would analyze in time.
func (b *readsBench) localTables() []string {
	names := []string{"tweets_default", "users_default", "tiered_default"}
	for _, r := range readRegions {
		for _, p := range b.periods[r] {
			if !b.cold(p) {
				names = append(names, pq.QuoteIdentifier(p.Name))
			}
		}
	}
	return names
}

func readServer(region string) string { return "shard_" + region }

func readMonth(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }

func readTime(t time.Time) string { return pq.QuoteLiteral(t.Format(time.RFC3339)) + "::timestamptz" }

func (b *readsBench) exec(stmts ...string) error {
	for _, s := range stmts {
		if _, err := b.conn.ExecContext(b.ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func (b *readsBench) setDelay(d time.Duration) {
	for _, p := range b.proxies {
		p.setDelay(d)
	}
}

func (b *readsBench) queries() []readQuery {
	since := b.asOf.Add(-7 * 24 * time.Hour)
	last7 := "SELECT count(*), sum(length(body)) FROM %s WHERE created_at >= %s"
	return []readQuery{
		{key: "group", title: "1. cross-shard GROUP BY", sql: "SELECT location, count(*) FROM tweets GROUP BY 1"},
		{key: "point", title: "2. point lookup by id (not the partition key: every shard is asked)",
			sql: "SELECT id, location, user_id, created_at, body FROM tweets WHERE id = $1", args: []any{int64(b.rows + 1)}},
		{key: "join", title: "3. join with users (partitioned like tweets) on location and user id",
			sql: "SELECT t.id, u.name FROM tweets t JOIN users u ON u.location = t.location AND u.id = t.user_id WHERE u.lang = 'lang_7'"},
		{key: "tiered-now", title: "4a. last 7 days, hot periods local and cold ones on the shards, now() in the query",
			sql: fmt.Sprintf(last7, "tiered", "now() - interval '7 days'"), moves: true},
		{key: "tiered", title: "4b. the same, the bound a parameter", sql: fmt.Sprintf(last7, "tiered", "$1"), args: []any{since}},
		{key: "remote", title: "4c. the same on tweets (every row on the shards), the bound a parameter",
			sql: fmt.Sprintf(last7, "tweets", "$1"), args: []any{since}},
	}
}

// run measures every query: first while the foreign partitions have never been analyzed,
// then ANALYZE's own cost, then with every foreign partition analyzed.
func (b *readsBench) run() (readResults, map[readAnalyzeKey]time.Duration, error) {
	b.setDelay(readLatency)
	res, queries := readResults{}, b.queries()
	if err := b.measureAll(queries, readUnanalyzed(), res); err != nil {
		return nil, nil, err
	}
	costs, err := b.analyzeCosts()
	if err != nil {
		return nil, nil, err
	}
	if err := b.analyzeForeign(); err != nil {
		return nil, nil, err
	}
	if err := b.measureAll(queries, readAnalyzed(), res); err != nil {
		return nil, nil, err
	}
	if err := b.explainNotShipped(); err != nil {
		return nil, nil, err
	}
	return res, costs, res.check(queries)
}

func (b *readsBench) measureAll(queries []readQuery, configs []readConfig, res readResults) error {
	for _, c := range configs {
		if err := b.configure(c); err != nil {
			return err
		}
		res[c.label] = map[string]readResult{}
		for _, q := range queries {
			r, err := b.measure(q)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", q.title, c.label, err)
			}
			res[c.label][q.key] = r
			log.Printf("reads: %-40s %-12s %s (%d run(s), %d rows)", c.label, q.key, readDuration(r.took), r.runs, r.rows)
		}
	}
	return nil
}

// configure applies c to the session (the GUCs) and to both servers. Altering a server
// drops the session's cached connection to it, so each server is connected again here,
// outside what is timed.
func (b *readsBench) configure(c readConfig) error {
	on := map[bool]string{false: "off", true: "on"}
	opts := fmt.Sprintf(" OPTIONS (SET async_capable '%t', SET fetch_size '%d', SET use_remote_estimate '%t', SET parallel_commit '%t', SET fdw_tuple_cost %s)",
		c.async, c.fetch, c.remoteEstimate, c.parallelCommit, pq.QuoteLiteral(c.tupleCost))
	stmts := []string{"SET enable_partitionwise_aggregate = " + on[c.aggregate], "SET enable_partitionwise_join = " + on[c.join]}
	for _, r := range readRegions {
		stmts = append(stmts, "ALTER SERVER "+pq.QuoteIdentifier(readServer(r))+opts)
	}
	return b.exec(append(stmts, "SELECT count(*) FROM users WHERE id < 0")...)
}

// measure runs q once to warm up (the shards' buffers, the remote transactions' first
// statements), then readRuns times, and keeps the median and the plan.
func (b *readsBench) measure(q readQuery) (readResult, error) {
	first, err := b.runOnce(q)
	if err != nil || first.took > readSlowRun {
		first.runs = 1
		return b.withPlan(q, first, err)
	}
	times := make([]time.Duration, readRuns)
	for i := range times {
		r, err := b.runOnce(q)
		if err != nil {
			return r, err
		}
		if !q.moves && (r.sum != first.sum || r.rows != first.rows) {
			return r, fmt.Errorf("run %d returned other rows than the warm-up", i+1)
		}
		times[i] = r.took
	}
	slices.Sort(times)
	first.took, first.runs = times[len(times)/2], readRuns
	return b.withPlan(q, first, nil)
}

func (b *readsBench) withPlan(q readQuery, r readResult, err error) (readResult, error) {
	if err != nil {
		return r, err
	}
	r.plan, err = b.explain(q.sql, q.args...)
	return r, err
}

// runOnce times q to its last row, read as the server sent it.
func (b *readsBench) runOnce(q readQuery) (readResult, error) {
	start := time.Now()
	rs, err := b.conn.QueryContext(b.ctx, q.sql, q.args...)
	if err != nil {
		return readResult{}, err
	}
	defer rs.Close()
	n, sum, err := rowsChecksum(rs)
	return readResult{took: time.Since(start), rows: n, sum: sum}, err
}

// rowsChecksum counts the rows and adds up a hash of each, so the same rows in any order
// give the same sum: every configuration must return what the others do.
func rowsChecksum(rs *sql.Rows) (n int, sum uint64, err error) {
	cols, err := rs.Columns()
	if err != nil {
		return 0, 0, err
	}
	vals, ptrs := make([]sql.RawBytes, len(cols)), make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for ; rs.Next(); n++ {
		if err := rs.Scan(ptrs...); err != nil {
			return n, sum, err
		}
		h := fnv.New64a()
		for _, v := range vals {
			h.Write(v)
			h.Write([]byte{0}) // so ("ab", "c") and ("a", "bc") differ
		}
		sum += h.Sum64()
	}
	return n, sum, rs.Err()
}

// explain returns the EXPLAIN (VERBOSE, COSTS OFF) of query without its Output lines:
// what is left is the plan's shape and each foreign scan's Remote SQL.
func (b *readsBench) explain(query string, args ...any) ([]string, error) {
	rs, err := b.conn.QueryContext(b.ctx, "EXPLAIN (VERBOSE, COSTS OFF) "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var plan []string
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(strings.TrimSpace(line), "Output:") {
			plan = append(plan, line)
		}
	}
	return plan, rs.Err()
}

// explainNotShipped keeps the tuned plan of a "last 7 days" with now() on tweets, which
// is not timed: postgres_fdw sends no stable function to a shard, so it reads every row.
func (b *readsBench) explainNotShipped() error {
	if err := b.configure(readTuned); err != nil {
		return err
	}
	var err error
	b.shipped, err = b.explain("SELECT count(*), sum(length(body)) FROM tweets WHERE created_at >= now() - interval '7 days'")
	return err
}

// check says whether every configuration returned the same rows for each query.
func (res readResults) check(queries []readQuery) error {
	for _, q := range queries {
		want := res[readTuned.label][q.key]
		for label, by := range res {
			if got := by[q.key]; !q.moves && (got.sum != want.sum || got.rows != want.rows) {
				return fmt.Errorf("%s: %s returned %d rows, tuned %d, or other ones", q.title, label, got.rows, want.rows)
			}
		}
	}
	return nil
}

// analyzeCosts times ANALYZE of one foreign partition, tweets_europe, with and without the
// added latency, at three fetch sizes: PostgreSQL 15's postgres_fdw samples a foreign table
// by reading all of it, fetch_size rows per round trip.
func (b *readsBench) analyzeCosts() (map[readAnalyzeKey]time.Duration, error) {
	defer b.setDelay(readLatency)
	costs := map[readAnalyzeKey]time.Duration{}
	for _, delay := range []time.Duration{0, readLatency} {
		b.setDelay(delay)
		for _, fetch := range []int{100, 1000, 10000} {
			d, err := b.analyzeOnce(fetch)
			if err != nil {
				return nil, err
			}
			costs[readAnalyzeKey{delay, fetch}] = d
			log.Printf("reads: ANALYZE tweets_europe, +%s, fetch_size %d: %s", delay, fetch, readDuration(d))
		}
	}
	return costs, nil
}

func (b *readsBench) analyzeOnce(fetch int) (time.Duration, error) {
	srv := pq.QuoteIdentifier(readServer(readRegions[0]))
	err := b.exec(fmt.Sprintf("ALTER SERVER %s OPTIONS (SET fetch_size '%d')", srv, fetch),
		"SELECT 1 FROM tweets_europe WHERE id < 0") // connected again, outside the time
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = b.exec("ANALYZE tweets_europe")
	return time.Since(start), err
}

// analyzeForeign analyzes every foreign partition, as an "analyze after create/move"
// would; without the added latency, since what that costs is measured above.
func (b *readsBench) analyzeForeign() error {
	b.setDelay(0)
	defer b.setDelay(readLatency)
	if err := b.configure(readTuned.with("", func(c *readConfig) { c.fetch = 10000 })); err != nil {
		return err
	}
	rs, err := b.conn.QueryContext(b.ctx, "SELECT c.oid::regclass::text FROM pg_foreign_table f JOIN pg_class c ON c.oid = f.ftrelid ORDER BY 1")
	if err != nil {
		return err
	}
	var stmts []string
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			rs.Close()
			return err
		}
		stmts = append(stmts, "ANALYZE "+name) // regclass::text is quoted as needed
	}
	rs.Close()
	return b.exec(stmts...)
}

// readDuration prints d with three significant digits or so.
func readDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

func (r readResult) cell() string {
	if r.runs == 1 {
		return readDuration(r.took) + " (1 run)"
	}
	return readDuration(r.took)
}

func (b *readsBench) print(res readResults, costs map[readAnalyzeKey]time.Duration) {
	queries := b.queries()
	fmt.Printf("\n## Cross-shard reads (%d rows, two regions, each a foreign partition on its own shard database behind a proxy adding %s to every round trip)\n\n", 2*b.rows, readLatency)
	fmt.Print(`- PostgreSQL defaults: enable_partitionwise_aggregate and enable_partitionwise_join off; servers with async_capable 'false', fetch_size '100', use_remote_estimate 'false', parallel_commit 'false', fdw_tuple_cost '0.01'; foreign partitions never analyzed (autovacuum skips foreign tables).
- tuned: SET enable_partitionwise_aggregate = on, SET enable_partitionwise_join = on (the querying session); servers with async_capable 'true', fetch_size '1000'; ANALYZE of every foreign partition.
`)
	fmt.Printf("- Each time is the median of %d runs after a warm-up run, on connections already open; a configuration whose warm-up took over %s is timed by that run alone (\"1 run\"). Every configuration returned the same rows (checked; 4a's window moves with now()).\n\n", readRuns, readSlowRun)
	fmt.Println("- recommended (what modules/sharded-table sets): tuned, and servers with fetch_size '10000', parallel_commit 'true', fdw_tuple_cost '1'; without enable_partitionwise_aggregate when the table has time_partitions.")
	fmt.Println()
	fmt.Println("| query | PostgreSQL defaults | tuned | ratio | recommended | ratio | recommended, partitionwise aggregate off | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, q := range queries {
		d, t := res[readDefaults.label][q.key], res[readTuned.label][q.key]
		r, n := res[readRecommended.label][q.key], res[readRecommendedNoAggregate.label][q.key]
		fmt.Printf("| %s: `%s` (%d rows) | %s | %s | %s | %s | %s | %s | %s |\n", q.title, q.sql, t.rows, d.cell(), t.cell(), readRatio(d.took, t.took),
			r.cell(), readRatio(d.took, r.took), n.cell(), readRatio(d.took, n.took))
	}
	b.printSettings(res, queries)
	b.printAnalyze(costs)
	b.printPlans(res, queries)
}

func readRatio(a, b time.Duration) string {
	if r := float64(a) / float64(b); r >= 1 {
		return fmt.Sprintf("%.2fx faster", r)
	}
	return fmt.Sprintf("%.2fx slower", float64(b)/float64(a))
}

// printSettings is the table of one setting changed at a time from tuned, each cell the
// time and how many times tuned's it is.
func (b *readsBench) printSettings(res readResults, queries []readQuery) {
	configs := append([]readConfig{readTuned}, readUnanalyzed()[1:]...)
	configs = append(configs, readAnalyzed()[1:]...)
	fmt.Printf("\n### One setting changed at a time from tuned (time, and its ratio to tuned's)\n\n| query |")
	for _, c := range configs {
		fmt.Printf(" %s |", c.label)
	}
	fmt.Printf("\n|---|%s\n", strings.Repeat("---:|", len(configs)))
	for _, q := range queries {
		fmt.Printf("| %s |", q.title[:strings.IndexByte(q.title, '.')])
		for _, c := range configs {
			r := res[c.label][q.key]
			fmt.Printf(" %s ×%.2f |", r.cell(), float64(r.took)/float64(res[readTuned.label][q.key].took))
		}
		fmt.Println()
	}
}

func (b *readsBench) printAnalyze(costs map[readAnalyzeKey]time.Duration) {
	fmt.Printf("\n### ANALYZE of one foreign partition (tweets_europe, %d rows) through postgres_fdw\n\n", b.rows)
	fmt.Println("PostgreSQL 15's postgres_fdw samples by reading the whole remote table, fetch_size rows per round trip (16 added analyze_sampling, which samples on the shard):")
	fmt.Println("\n| added latency per round trip | fetch_size 100 (default) | fetch_size 1000 | fetch_size 10000 |")
	fmt.Println("|---|---:|---:|---:|")
	for _, delay := range []time.Duration{0, readLatency} {
		fmt.Printf("| %s |", delay)
		for _, fetch := range []int{100, 1000, 10000} {
			fmt.Printf(" %s |", readDuration(costs[readAnalyzeKey{delay, fetch}]))
		}
		fmt.Println()
	}
}

// printPlans prints each query's tuned plan and, where their shape differs, the defaults'
// and the recommended one.
func (b *readsBench) printPlans(res readResults, queries []readQuery) {
	fmt.Println("\n### Plans (EXPLAIN (VERBOSE, COSTS OFF), Output lines left out)")
	for _, q := range queries {
		tuned := res[readTuned.label][q.key].plan
		fmt.Printf("\n%s, tuned:\n\n```\n%s\n```\n", q.title, strings.Join(tuned, "\n"))
		for _, c := range []readConfig{readDefaults, readRecommended, readRecommendedNoAggregate} {
			if plan := res[c.label][q.key].plan; !slices.Equal(tuned, plan) {
				fmt.Printf("\n%s:\n\n```\n%s\n```\n", c.label, strings.Join(plan, "\n"))
			}
		}
	}
	fmt.Printf("\nNot timed: the \"last 7 days\" on tweets with now() in the query, tuned. postgres_fdw sends no stable function (now()) to a shard, so each shard sends every row and the filter runs on the base:\n\n```\n%s\n```\n", strings.Join(b.shipped, "\n"))
}
