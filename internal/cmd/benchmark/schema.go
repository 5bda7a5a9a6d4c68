package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// benchSchema times one column added to the parent of N managed shards (part 3): the apply
// that adds it to the parent and to every shard table, per shard, with the connections it
// opened on the base and on the shard databases.
func benchSchema(ctx context.Context, base, shard *postgrestest.Cluster, ns []int, runs, maxConns int, keep bool) error {
	tf, work, rc, done, err := benchDir("pgshard-bench-schema-", keep)
	if err != nil {
		return err
	}
	defer done()
	results := map[int][]sample{}
	for run := 0; run < runs; run++ {
		for _, n := range ns {
			for i := 0; i < n; i++ {
				if err := shard.CreateDatabase(ctx, fmt.Sprintf("shard_%d", i)); err != nil {
					return err
				}
			}
			db := fmt.Sprintf("s_%d_%d", n, run)
			if err := base.CreateDatabase(ctx, db); err != nil {
				return err
			}
			for _, ext := range []string{"postgres_fdw", "dblink"} {
				if err := base.Exec(ctx, db, "CREATE EXTENSION "+ext); err != nil {
					return err
				}
			}
			// Distinct shard tables per run (the provider never drops them).
			config := providerConfig(base, shard, db, n, 1000+run, maxConns)
			w, err := newWorkspace(tf, rc, filepath.Join(work, db), config)
			if err != nil {
				return err
			}
			if _, err := w.run("apply", "-auto-approve", "-no-color"); err != nil {
				return err
			}
			added := strings.Replace(config, `{ name = "text", type = "text" },`,
				`{ name = "text", type = "text" },`+"\n    "+`{ name = "lang", type = "text", default = "'en'" },`, 1)
			if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(added), 0o644); err != nil {
				return err
			}
			before, err := connections(base, shard)
			if err != nil {
				return err
			}
			took, err := w.run("apply", "-auto-approve", "-no-color")
			if err != nil {
				return err
			}
			after, err := connections(base, shard)
			if err != nil {
				return err
			}
			s := sample{took: took, baseConns: after[base.Name][db] - before[base.Name][db]}
			for name, c := range after[shard.Name] {
				d := c - before[shard.Name][name]
				s.shardSum += d
				s.shardMax = max(s.shardMax, d)
			}
			results[n] = append(results[n], s)
			log.Printf("run %d  N=%-4d column added in %8s  base conns %d, shard conns max %d (all %d)",
				run+1, n, took.Round(time.Millisecond), s.baseConns, s.shardMax, s.shardSum)
			if _, err := w.run("destroy", "-auto-approve", "-no-color"); err != nil {
				return err
			}
		}
	}
	fmt.Printf("\n## One column added across N managed shards (the apply after the change), medians of %d runs, max_connections = %d\n\n", runs, maxConns)
	fmt.Println("| N | apply | ms/shard | base conns | shard conns (max per db / all) |")
	fmt.Println("|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		m := median(results[n])
		fmt.Printf("| %d | %s | %.1f | %d | %d / %d |\n", n, m.took.Round(10*time.Millisecond), float64(m.took.Milliseconds())/float64(n), m.baseConns, m.shardMax, m.shardSum)
	}
	return nil
}
