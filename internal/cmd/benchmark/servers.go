package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// benchServers is the part that times only the connection objects: one pgshard_extension
// (postgres_fdw), N pgshard_foreign_server and N pgshard_user_mapping (each mapping on its
// server, each server on the extension), against the same dependency shape in
// terraform_data, alternating, with the clusters' own (SCRAM) authentication. It prints
// the medians, their ratio, the time per server and the connections each phase opened on
// the base database. Nothing connects to a shard: a server and a mapping are catalog rows.
// sizes is the -servers-n list; empty skips the part.
func benchServers(ctx context.Context, base, shard *postgrestest.Cluster, sizes string, runs, maxConns int, keep bool) error {
	if strings.TrimSpace(sizes) == "" {
		return nil
	}
	var ns []int
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -servers-n value %q", s)
		}
		ns = append(ns, n)
	}
	tf, work, rc, done, err := benchDir("pgshard-bench-servers-", keep)
	if err != nil {
		return err
	}
	defer done()
	results := map[string][]sample{} // key: kind/N/phase
	for run := 0; run < runs; run++ {
		for _, n := range ns {
			kinds := []string{"provider", "floor"}
			if run%2 == 1 {
				kinds = []string{"floor", "provider"} // alternate the order
			}
			for _, kind := range kinds {
				db := fmt.Sprintf("s_%s_%d_%d", kind, n, run)
				if err := base.CreateDatabase(ctx, db); err != nil {
					return err
				}
				config := serversFloorConfig(n)
				if kind == "provider" {
					config = serversProviderConfig(base, shard, db, n, maxConns)
				}
				w, err := newWorkspace(tf, rc, filepath.Join(work, db), config)
				if err != nil {
					return err
				}
				for _, phase := range phases {
					s, err := measurePhase(w, phase, base, nil, db)
					if err != nil {
						return err
					}
					key := fmt.Sprintf("%s/%d/%s", kind, n, phase)
					results[key] = append(results[key], s)
					log.Printf("servers run %d  N=%-4d %-8s %-7s %8s  base conns %d",
						run+1, n, kind, phase, s.took.Round(time.Millisecond), s.baseConns)
				}
			}
		}
	}
	printServersTable(results, ns, maxConns)
	return nil
}

func printServersTable(results map[string][]sample, ns []int, maxConns int) {
	fmt.Printf("\n## Extension, foreign servers and user mappings against the floor (terraform_data), medians of %d runs, max_connections = %d\n\n",
		len(results["provider/"+fmt.Sprint(ns[0])+"/apply"]), maxConns)
	fmt.Println("| N | phase | provider | floor | ratio | provider ms/server | floor ms/server | provider − floor, ms/server | base conns |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		for _, phase := range phases {
			fmt.Println(floorRow(results, n, phase))
		}
	}
}

func serversProviderConfig(base, shard *postgrestest.Cluster, db string, n, maxConns int) string {
	return providerBlock(base, db, n, maxConns) + fmt.Sprintf(`
resource "pgshard_extension" "fdw" {
  name = "postgres_fdw"
}

resource "pgshard_foreign_server" "shard" {
  count                = local.n
  name                 = "shard_${count.index}"
  foreign_data_wrapper = pgshard_extension.fdw.name
  host                 = %q
  port                 = %d
  dbname               = "shard_${count.index}"
}

resource "pgshard_user_mapping" "shard" {
  count    = local.n
  server   = pgshard_foreign_server.shard[count.index].name
  user     = "postgres"
  password = %q
}
`, shard.Host, shard.Port, shard.Password)
}

func serversFloorConfig(n int) string {
	return fmt.Sprintf(`locals {
  n = %d
}

resource "terraform_data" "fdw" {
  input = "postgres_fdw"
}

resource "terraform_data" "server" {
  count = local.n
  input = { name = "shard_${count.index}", wrapper = terraform_data.fdw.output }
}

resource "terraform_data" "mapping" {
  count = local.n
  input = terraform_data.server[count.index].output
}
`, n)
}
