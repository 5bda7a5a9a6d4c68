package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/lib/pq"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// benchTable builds examples/sharded-tweets-sql (two regions, create_remote_table) with the
// provider, each shard reached through a proxy that can add latency, and measures the table.
func benchTable(ctx context.Context, base, shard *postgrestest.Cluster, rows int) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tf, err := postgrestest.TerraformPath()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "pgshard-bench-table-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rc, err := releaseMirror(root, work)
	if err != nil {
		return err
	}
	for _, db := range []string{"tweets", "eutweets", "ustweets"} {
		c := shard
		if db == "tweets" {
			c = base
		}
		if err := c.CreateDatabase(ctx, db); err != nil {
			return err
		}
	}
	target := fmt.Sprintf("%s:%d", shard.Host, shard.Port)
	eu, err := startProxy(target)
	if err != nil {
		return err
	}
	defer eu.close()
	us, err := startProxy(target)
	if err != nil {
		return err
	}
	defer us.close()

	src, err := os.ReadFile(filepath.Join(root, "examples", "sharded-tweets-sql", "main.tf"))
	if err != nil {
		return err
	}
	dir := filepath.Join(work, "example")
	w, err := newWorkspace(tf, rc, dir, string(src))
	if err != nil {
		return err
	}
	for _, f := range []string{"variables.tf", "outputs.tf"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "sharded-tweets-sql", f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	region := func(p *proxy, db, table, location string, idStart int64) map[string]any {
		return map[string]any{"host": "127.0.0.1", "port": p.port, "dbname": db, "username": shard.User,
			"table": table, "locations": []string{location}, "id_start": idStart}
	}
	vars, _ := json.Marshal(map[string]any{
		"base": map[string]any{"host": base.Host, "port": base.Port, "database": "tweets", "username": base.User, "password": base.Password, "sslmode": "disable"},
		"regions": map[string]any{
			"europe": region(eu, "eutweets", "europe_tweets", "europe", 1000000000000),
			"usa":    region(us, "ustweets", "us_tweets", "usa", 2000000000000),
		},
		"shard_passwords": map[string]string{"europe": shard.Password, "usa": shard.Password},
		"force_destroy":   true,
	})
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), vars, 0o600); err != nil {
		return err
	}
	took, err := w.run("apply", "-auto-approve", "-no-color")
	if err != nil {
		return err
	}
	log.Printf("two-region example applied in %s", took.Round(time.Millisecond))

	db, err := base.Open("tweets")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one session, so option changes and fdw connections are its own
	exec := func(q string, args ...any) error {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	setOption := func(key, value string) error {
		for _, t := range []string{"europe_tweets", "us_tweets"} {
			if err := exec("ALTER FOREIGN TABLE " + postgres.Ident(t) + " OPTIONS (SET " + postgres.Ident(key) + " " + postgres.Literal(value) + ")"); err != nil {
				return err
			}
		}
		return exec("SELECT postgres_fdw_disconnect_all()")
	}

	fmt.Printf("\n## The sharded table (examples/sharded-tweets-sql, two regions, create_remote_table)\n\n")

	// 1. A single-region query touches one shard.
	rowsPlan, err := db.QueryContext(ctx, `EXPLAIN (VERBOSE, COSTS OFF) SELECT id, text FROM tweets WHERE location = 'europe'`)
	if err != nil {
		return err
	}
	var plan []string
	for rowsPlan.Next() {
		var line string
		if err := rowsPlan.Scan(&line); err != nil {
			return err
		}
		plan = append(plan, line)
	}
	rowsPlan.Close()
	scans := 0
	for _, l := range plan {
		if strings.Contains(l, "Foreign Scan") || strings.Contains(l, "Seq Scan") {
			scans++
		}
	}
	fmt.Printf("Single-region query, `SELECT id, text FROM tweets WHERE location = 'europe'`: %d scan node(s); the plan:\n\n```\n%s\n```\n\n", scans, strings.Join(plan, "\n"))
	if scans != 1 || !strings.Contains(strings.Join(plan, "\n"), "public.europe_tweets") {
		return fmt.Errorf("the single-region query should scan only europe_tweets:\n%s", strings.Join(plan, "\n"))
	}

	// 2. Inserts through the parent: batch_size 1 against 500 (no added latency).
	insert := fmt.Sprintf(`INSERT INTO tweets (location, text) SELECT CASE WHEN i %% 2 = 0 THEN 'europe' ELSE 'usa' END, 'tweet ' || i FROM generate_series(1, %d) i`, rows)
	inserts := map[string]time.Duration{}
	for _, batch := range []string{"1", "500"} {
		if err := setOption("batch_size", batch); err != nil {
			return err
		}
		if err := exec("TRUNCATE tweets"); err != nil {
			return err
		}
		start := time.Now()
		if err := exec(insert); err != nil {
			return err
		}
		inserts[batch] = time.Since(start)
		log.Printf("insert of %d rows with batch_size %s: %s", rows, batch, inserts[batch].Round(time.Millisecond))
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM tweets`).Scan(&n); err != nil || n != rows {
		return fmt.Errorf("after the insert tweets holds %d rows (%v), want %d", n, err, rows)
	}

	// 3. A full scan with async_capable off and on, 20 ms added to each shard's round trips.
	eu.setDelay(20 * time.Millisecond)
	us.setDelay(20 * time.Millisecond)
	scan := `SELECT count(*), sum(length(text)) FROM tweets`
	scansBy := map[string]time.Duration{}
	for _, async := range []string{"false", "true"} {
		if err := setOption("async_capable", async); err != nil {
			return err
		}
		var times []time.Duration
		for i := 0; i < 5; i++ {
			if err := exec("SELECT postgres_fdw_disconnect_all()"); err != nil {
				return err
			}
			if err := exec("SELECT count(*) FROM tweets WHERE false"); err != nil { // warm the plan cache
				return err
			}
			start := time.Now()
			var c, l sql.NullInt64
			if err := db.QueryRowContext(ctx, scan).Scan(&c, &l); err != nil {
				return err
			}
			times = append(times, time.Since(start))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		scansBy[async] = times[len(times)/2]
		log.Printf("full scan, async_capable %s: median %s", async, scansBy[async].Round(time.Millisecond))
	}
	eu.setDelay(0)
	us.setDelay(0)

	fmt.Println("| measurement | setting | time | ratio |")
	fmt.Println("|---|---|---:|---:|")
	fmt.Printf("| insert %d rows through the parent | batch_size 1 | %s | 1.00x |\n", rows, inserts["1"].Round(time.Millisecond))
	fmt.Printf("| insert %d rows through the parent | batch_size 500 | %s | %.2fx faster |\n", rows, inserts["500"].Round(time.Millisecond), float64(inserts["1"])/float64(inserts["500"]))
	fmt.Printf("| full scan of %d rows, +20 ms per shard round trip (median of 5) | async_capable false | %s | 1.00x |\n", rows, scansBy["false"].Round(time.Millisecond))
	fmt.Printf("| full scan of %d rows, +20 ms per shard round trip (median of 5) | async_capable true | %s | %.2fx faster |\n", rows, scansBy["true"].Round(time.Millisecond), float64(scansBy["false"])/float64(scansBy["true"]))

	if _, err := w.run("destroy", "-auto-approve", "-no-color"); err != nil {
		return err
	}
	return nil
}
