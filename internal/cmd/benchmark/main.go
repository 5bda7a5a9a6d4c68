// Command benchmark measures the provider against Terraform's own floor, and the sharded
// table it builds. `make bench` runs it; CI does not.
//
// Part 1: for N shards (N foreign servers, N user mappings, N foreign partitions with their
// shard tables, one parent, one DEFAULT) it times terraform apply, a no-change plan and
// destroy with the provider built as released and installed from a filesystem mirror, and
// the same dependency shape with terraform_data (the floor), alternating, and prints the
// medians, their ratio, the time per shard, and the connections each phase opened on the base
// database and on the busiest shard database (from the servers' log_connections).
//
// Part 4: it moves 1,000,000 rows of one key from one shard to another (through DEFAULT,
// verified) and compares the rate with copying them through postgres_fdw and with COPY.
//
// Part 3: for 16 and 64 managed shards, it times the apply that adds one column to the parent
// and to every shard table, per shard, with the connections it opened.
//
// Part 2: on a two-region tweets table built with create_remote_table, it shows by EXPLAIN
// that a single-region query touches one shard, times a full scan with async_capable off and
// on behind a proxy adding 20 ms to each shard, and a 100,000-row insert through the parent
// with batch_size 1 and 500.
//
// Part 6 (servers.go, -servers-n): one pgshard_extension, N foreign servers and N user
// mappings against the same shape in terraform_data, as part 1 does, with the clusters'
// SCRAM logins. PGSHARD_CPUPROFILE=prefix makes every provider process write a CPU profile
// to prefix.<pid> (see the provider's main.go), for profiling a phase by hand with -keep.
//
// Part 7 (reads.go, -read-rows): queries that span two shards behind 20 ms proxies (a GROUP
// BY, a point lookup by id, a join with a table partitioned the same way, a "last 7 days" on
// hot and cold periods), each with PostgreSQL's defaults, tuned, the recommended settings and
// one setting changed at a time, with their plans, and what ANALYZE of a foreign partition
// costs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func main() {
	sizes := flag.String("n", "16,64,256", "shard counts, comma-separated")
	runs := flag.Int("runs", 3, "runs per configuration (medians are reported)")
	maxConns := flag.Int("max-connections", 8, "the provider's max_connections")
	skipTable := flag.Bool("skip-table", false, "skip part 2 (the sharded table)")
	skipProvider := flag.Bool("skip-provider", false, "skip part 1 (the provider against the floor)")
	moveRows := flag.Int("move-rows", 1000000, "rows moved between two shards in part 4 (0 skips it)")
	schemaSizes := flag.String("schema-n", "16,64", "shard counts for part 3 (a column added across the shards); empty skips it")
	rows := flag.Int("rows", 100000, "rows inserted through the parent in part 2")
	windowRows := flag.Int("window-rows", 2000000, "rows of the \"last 7 days\" query on time partitions in part 5 (0 skips it)")
	readRows := flag.Int("read-rows", 1000000, "rows of the cross-shard reads (GROUP BY, point lookup, join, last 7 days; defaults against tuned), split between two regions (0 skips it)")
	serverSizes := flag.String("servers-n", "16,64,256", "counts for part 6 (1 extension, N foreign servers, N user mappings against the floor); empty skips it")
	keep := flag.Bool("keep", false, "keep the clusters and working directories (for profiling by hand)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("[bench] ")

	ns := shardCounts("n", *sizes)
	var sn []int
	if *schemaSizes != "" {
		sn = shardCounts("schema-n", *schemaSizes)
	}
	ctx := context.Background()
	start := time.Now()
	base, err := postgrestest.StartCluster(ctx, "bench-base")
	if err != nil {
		log.Fatal(err)
	}
	shard, err := postgrestest.StartCluster(ctx, "bench-shard")
	if err != nil {
		destroy(base)
		log.Fatal(err)
	}
	log.Printf("clusters up in %s (base :%d, shard :%d)", time.Since(start).Round(time.Millisecond), base.Port, shard.Port)

	code := 0
	if !*skipProvider {
		if err := benchProvider(ctx, base, shard, ns, *runs, *maxConns, *keep); err != nil {
			log.Printf("provider benchmark: %v", err)
			code = 1
		}
	}
	if *moveRows > 0 {
		if err := benchMove(ctx, base, shard, *moveRows); err != nil {
			log.Printf("move benchmark: %v", err)
			code = 1
		}
	}
	if len(sn) > 0 {
		if err := benchSchema(ctx, base, shard, sn, *runs, *maxConns, *keep); err != nil {
			log.Printf("schema benchmark: %v", err)
			code = 1
		}
	}
	if !*skipTable {
		if err := benchTable(ctx, base, shard, *rows); err != nil {
			log.Printf("sharded table benchmark: %v", err)
			code = 1
		}
	}
	if *windowRows > 0 {
		if err := benchWindow(ctx, base, *windowRows); err != nil {
			log.Printf("window benchmark: %v", err)
			code = 1
		}
	}
	if *readRows > 0 {
		if err := benchReads(ctx, base, shard, *readRows); err != nil {
			log.Printf("reads benchmark: %v", err)
			code = 1
		}
	}
	if err := benchServers(ctx, base, shard, *serverSizes, *runs, *maxConns, *keep); err != nil {
		log.Printf("servers benchmark: %v", err)
		code = 1
	}
	fmt.Printf("\ntotal benchmark time: %s\n", time.Since(start).Round(time.Second))
	// Not deferred: os.Exit runs no deferred call.
	if !*keep {
		destroy(base, shard)
	}
	os.Exit(code)
}

// shardCounts parses the comma-separated shard counts of flag name, before any cluster
// starts: log.Fatal runs no deferred call.
func shardCounts(name, list string) []int {
	var counts []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("bad -%s value %q", name, s)
		}
		counts = append(counts, n)
	}
	return counts
}

// destroy stops and removes clusters, saying which could not be.
func destroy(clusters ...*postgrestest.Cluster) {
	for _, c := range clusters {
		if err := c.Destroy(); err != nil {
			log.Printf("destroy: %v", err)
		}
	}
}
