package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"sort"
	"strings"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// windowEnd is the instant the "last 7 days" window ends; the rows span the year before it.
var windowEnd = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// benchWindow measures a "last 7 days" query of one region on the same rows stored two
// ways, in one database of the base: one table, and tweets LIST (location) -> a region
// RANGE (created_at) -> the monthly periods pgshard_time_partitions makes (PlanPeriods
// names and bounds them), with and without an index on created_at.
func benchWindow(ctx context.Context, base *postgrestest.Cluster, rows int) error {
	if err := base.CreateDatabase(ctx, "window"); err != nil {
		return err
	}
	db, err := base.Open("window")
	if err != nil {
		return err
	}
	defer db.Close()
	exec := func(stmt string) error {
		_, err := db.ExecContext(ctx, stmt)
		if err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
		return nil
	}
	start := time.Now()
	stmts := []string{
		"CREATE TABLE plain (id bigint, location text NOT NULL, created_at timestamptz NOT NULL, body text)",
		fmt.Sprintf(`INSERT INTO plain SELECT g, (ARRAY['europe', 'usa'])[1 + g %% 2], %s - (g * (interval '365 days' / %d)), repeat('x', 40)
		  FROM generate_series(1, %d) g`, postgres.Literal(windowEnd.Format(time.RFC3339))+"::timestamptz", rows, rows),
		"CREATE TABLE tweets (LIKE plain) PARTITION BY LIST (location)",
	}
	for _, region := range []string{"europe", "usa"} {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE tweets_%s PARTITION OF tweets FOR VALUES IN (%s) PARTITION BY RANGE (created_at)", region, postgres.Literal(region)))
		parent := &postgres.Table{Schema: "public", Name: "tweets_" + region}
		month, _ := postgres.ParseInterval("1 month")
		first := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
		plan, err := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: postgres.TimeKey{Column: "created_at", Type: "timestamptz"},
			Interval: month, Start: &first, Premake: 1, AsOf: windowEnd}, nil, nil)
		if err != nil {
			return err
		}
		for _, p := range plan.Create {
			stmts = append(stmts, "CREATE TABLE "+postgres.QualifiedIdent("public", p.Name)+" PARTITION OF "+parent.Qualified()+" "+p.Bound().SQL())
		}
	}
	stmts = append(stmts, "INSERT INTO tweets SELECT * FROM plain", "VACUUM ANALYZE plain", "VACUUM ANALYZE tweets", "VACUUM ANALYZE tweets_europe", "VACUUM ANALYZE tweets_usa")
	for _, s := range stmts {
		if err := exec(s); err != nil {
			return err
		}
	}
	log.Printf("window benchmark: %d rows loaded twice in %s", rows, time.Since(start).Round(time.Millisecond))

	query := func(table string) string {
		return fmt.Sprintf("SELECT count(*), sum(length(body)) FROM %s WHERE location = 'europe' AND created_at >= %s::timestamptz - interval '7 days'",
			table, postgres.Literal(windowEnd.Format(time.RFC3339)))
	}
	timeIt := func(q string) (time.Duration, error) {
		var times []time.Duration
		for i := 0; i < 7; i++ {
			t0 := time.Now()
			var n, l sql.NullInt64
			if err := db.QueryRowContext(ctx, q).Scan(&n, &l); err != nil {
				return 0, err
			}
			times = append(times, time.Since(t0))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		return times[len(times)/2], nil
	}
	results := map[string]time.Duration{}
	for _, indexed := range []bool{false, true} {
		if indexed {
			if err := exec("CREATE INDEX ON plain (created_at)"); err != nil {
				return err
			}
			if err := exec("CREATE INDEX ON tweets (created_at)"); err != nil {
				return err
			}
			if err := exec("ANALYZE"); err != nil {
				return err
			}
		}
		for _, table := range []string{"plain", "tweets"} {
			d, err := timeIt(query(table))
			if err != nil {
				return err
			}
			results[fmt.Sprintf("%s %v", table, indexed)] = d
		}
	}
	var plan []string
	rs, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "+query("tweets"))
	if err != nil {
		return err
	}
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			rs.Close()
			return err
		}
		plan = append(plan, line)
	}
	rs.Close()

	fmt.Printf("\n## A \"last 7 days\" query on time partitions (%d rows over a year, two regions)\n\n", rows)
	fmt.Printf("`%s`, median of 7, against the same rows in one table:\n\n", query("tweets"))
	fmt.Println("| index on created_at | one table | LIST (location) -> monthly RANGE periods | ratio |")
	fmt.Println("|---|---:|---:|---:|")
	for _, indexed := range []bool{false, true} {
		one, parted := results[fmt.Sprintf("plain %v", indexed)], results[fmt.Sprintf("tweets %v", indexed)]
		fmt.Printf("| %v | %s | %s | %.1fx faster |\n", indexed, one.Round(10*time.Microsecond), parted.Round(10*time.Microsecond), float64(one)/float64(parted))
	}
	fmt.Printf("\nThe partitioned plan with the index (pruned at both levels; the periods outside the window are removed at executor start-up):\n\n```\n%s\n```\n", strings.Join(plan, "\n"))
	return nil
}
