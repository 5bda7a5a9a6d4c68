package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

var phases = []string{"apply", "plan", "destroy"}

// sample is one measured phase.
type sample struct {
	took      time.Duration
	baseConns int // connections opened on the base database
	shardMax  int // most connections opened on any one shard database
	shardSum  int // connections opened on all shard databases
}

// benchDir makes a working directory for a part of the benchmark (removed by done unless
// keep) with the release build of the provider in a mirror, and returns the Terraform CLI,
// the directory and the CLI configuration that installs from that mirror.
func benchDir(prefix string, keep bool) (tf, work, rc string, done func(), err error) {
	if tf, err = postgrestest.TerraformPath(); err != nil {
		return "", "", "", nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", "", "", nil, err
	}
	if work, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", "", nil, err
	}
	done = func() { _ = os.RemoveAll(work) }
	if keep {
		log.Printf("keeping %s", work)
		done = func() {}
	}
	if rc, err = releaseMirror(root, work); err != nil {
		done()
		return "", "", "", nil, err
	}
	return tf, work, rc, done, nil
}

func benchProvider(ctx context.Context, base, shard *postgrestest.Cluster, ns []int, runs, maxConns int, keep bool) error {
	tf, work, rc, done, err := benchDir("pgshard-bench-", keep)
	if err != nil {
		return err
	}
	defer done()
	maxN := 0
	for _, n := range ns {
		maxN = max(maxN, n)
	}
	start := time.Now()
	for i := 0; i < maxN; i++ {
		if err := shard.CreateDatabase(ctx, fmt.Sprintf("shard_%d", i)); err != nil {
			return err
		}
	}
	log.Printf("%d shard databases created in %s; terraform %s", maxN, time.Since(start).Round(time.Millisecond), tf)

	results := map[string][]sample{} // key: kind/N/phase
	for run := 0; run < runs; run++ {
		for _, n := range ns {
			kinds := []string{"provider", "floor"}
			if run%2 == 1 {
				kinds = []string{"floor", "provider"} // alternate the order
			}
			for _, kind := range kinds {
				db := fmt.Sprintf("b_%s_%d_%d", kind, n, run)
				if err := base.CreateDatabase(ctx, db); err != nil {
					return err
				}
				if kind == "provider" {
					for _, ext := range []string{"postgres_fdw", "dblink"} {
						if err := base.Exec(ctx, db, "CREATE EXTENSION "+ext); err != nil {
							return err
						}
					}
				}
				config := floorConfig(n)
				if kind == "provider" {
					config = providerConfig(base, shard, db, n, run, maxConns)
				}
				w, err := newWorkspace(tf, rc, filepath.Join(work, db), config)
				if err != nil {
					return err
				}
				for _, phase := range phases {
					s, err := measurePhase(w, phase, base, shard, db)
					if err != nil {
						return err
					}
					key := fmt.Sprintf("%s/%d/%s", kind, n, phase)
					results[key] = append(results[key], s)
					log.Printf("run %d  N=%-4d %-8s %-7s %8s  base conns %d, shard conns max %d (all %d)",
						run+1, n, kind, phase, s.took.Round(time.Millisecond), s.baseConns, s.shardMax, s.shardSum)
				}
			}
		}
	}
	printProviderTable(results, ns, maxConns)
	return nil
}

func printProviderTable(results map[string][]sample, ns []int, maxConns int) {
	fmt.Printf("\n## Provider against the floor (terraform_data), medians of %d runs, max_connections = %d\n\n", len(results["provider/"+fmt.Sprint(ns[0])+"/apply"]), maxConns)
	fmt.Println("| N | phase | provider | floor | ratio | provider ms/shard | floor ms/shard | provider − floor, ms/shard | base conns | shard conns (max per db / all) |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		for _, phase := range phases {
			p := median(results[fmt.Sprintf("provider/%d/%s", n, phase)])
			fmt.Printf("%s %d / %d |\n", floorRow(results, n, phase), p.shardMax, p.shardSum)
		}
	}
}

var phaseArgs = map[string][]string{
	"apply":   {"apply", "-auto-approve", "-no-color"},
	"plan":    {"plan", "-detailed-exitcode", "-no-color"},
	"destroy": {"destroy", "-auto-approve", "-no-color"},
}

// measurePhase runs phase in w and counts the connections it opened on database db of base
// and on each database of shard (nil: none).
func measurePhase(w *workspace, phase string, base, shard *postgrestest.Cluster, db string) (sample, error) {
	clusters := []*postgrestest.Cluster{base}
	if shard != nil {
		clusters = append(clusters, shard)
	}
	before, err := connections(clusters...)
	if err != nil {
		return sample{}, err
	}
	took, err := w.run(phaseArgs[phase]...)
	if err != nil {
		return sample{}, err
	}
	after, err := connections(clusters...)
	if err != nil {
		return sample{}, err
	}
	s := sample{took: took, baseConns: after[base.Name][db] - before[base.Name][db]}
	if shard != nil {
		for name, c := range after[shard.Name] {
			d := c - before[shard.Name][name]
			s.shardSum += d
			s.shardMax = max(s.shardMax, d)
		}
	}
	return s, nil
}

// floorRow is the start of a table row of phase at n: the provider's and the floor's
// medians, their ratio, each per resource, and the base connections.
func floorRow(results map[string][]sample, n int, phase string) string {
	p := median(results[fmt.Sprintf("provider/%d/%s", n, phase)])
	f := median(results[fmt.Sprintf("floor/%d/%s", n, phase)])
	return fmt.Sprintf("| %d | %s | %s | %s | %.2fx | %.1f | %.1f | %.1f | %d |", n, phase,
		p.took.Round(10*time.Millisecond), f.took.Round(10*time.Millisecond), float64(p.took)/float64(f.took),
		float64(p.took.Milliseconds())/float64(n), float64(f.took.Milliseconds())/float64(n),
		float64(p.took.Milliseconds()-f.took.Milliseconds())/float64(n), p.baseConns)
}

// median picks the sample with the median duration (connections from the same sample).
func median(s []sample) sample {
	if len(s) == 0 {
		return sample{}
	}
	c := append([]sample(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i].took < c[j].took })
	return c[len(c)/2]
}

var authorized = regexp.MustCompile(`connection authorized: user=\S+ database=(\S+)`)

// connections counts the connections authorized so far per database, per cluster name.
func connections(clusters ...*postgrestest.Cluster) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	for _, c := range clusters {
		f, err := os.Open(c.LogFile)
		if err != nil {
			return nil, err
		}
		counts := map[string]int{}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := authorized.FindStringSubmatch(sc.Text()); m != nil {
				counts[m[1]]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
		out[c.Name] = counts
	}
	return out, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "", fmt.Errorf("run the benchmark from inside the module: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// providerBlock is the terraform and provider blocks of a workspace on database db of
// base, and local.n.
func providerBlock(base *postgrestest.Cluster, db string, n, maxConns int) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    pgshard = { source = "pgshard/pgshard" }
  }
}

provider "pgshard" {
  host            = %q
  port            = %d
  database        = %q
  username        = %q
  password        = %q
  sslmode         = "disable"
  max_connections = %d
}

locals {
  n = %d
}
`, base.Host, base.Port, db, base.User, base.Password, maxConns, n)
}

func providerConfig(base, shard *postgrestest.Cluster, db string, n, run, maxConns int) string {
	return providerBlock(base, db, n, maxConns) + fmt.Sprintf(`
resource "pgshard_foreign_server" "shard" {
  count  = local.n
  name   = "shard_${count.index}"
  host   = %q
  port   = %d
  dbname = "shard_${count.index}"
}

resource "pgshard_user_mapping" "shard" {
  count    = local.n
  server   = pgshard_foreign_server.shard[count.index].name
  user     = "postgres"
  password = %q
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text" },
  ]
  partition_by = { strategy = "list", key = ["location"] }
}

resource "pgshard_foreign_partition" "shard" {
  count               = local.n
  parent              = pgshard_partitioned_table.tweets.id
  name                = "tweets_${count.index}"
  server              = pgshard_user_mapping.shard[count.index].server
  remote_table        = "tweets_n%d_r%d"
  values_in           = ["region_${count.index}"]
  create_remote_table = true
}

resource "pgshard_partition" "default" {
  parent     = pgshard_partitioned_table.tweets.id
  name       = "tweets_default"
  is_default = true
}
`, shard.Host, shard.Port, shard.Password, n, run)
}

func floorConfig(n int) string {
	return fmt.Sprintf(`locals {
  n = %d
}

resource "terraform_data" "tweets" {
  input = "tweets"
}

resource "terraform_data" "server" {
  count = local.n
  input = "shard_${count.index}"
}

resource "terraform_data" "mapping" {
  count = local.n
  input = terraform_data.server[count.index].output
}

resource "terraform_data" "partition" {
  count = local.n
  input = { parent = terraform_data.tweets.output, server = terraform_data.mapping[count.index].output }
}

resource "terraform_data" "default" {
  input = terraform_data.tweets.output
}
`, n)
}
