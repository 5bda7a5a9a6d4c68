package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// subPartitionConfig is tweets LIST (location), tweets_europe a partition of it for
// europeBound, itself RANGE (created_at), and a local leaf for 2024 under it. extra goes
// into tweets_europe's block, leafExtra into the leaf's.
func subPartitionConfig(a *accDatabase, europeBound, extra, leafExtra string) string {
	return subPartitionTree(a, "parent = pgshard_partitioned_table.tweets.id\n  "+europeBound+"\n  "+extra, leafExtra)
}

// subPartitionDetachedConfig is subPartitionConfig's tweets_europe without parent: a table
// of its own, with the columns it has.
func subPartitionDetachedConfig(a *accDatabase) string {
	return subPartitionTree(a, "columns = "+subPartitionColumns, "")
}

const subPartitionColumns = `[
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamptz", not_null = true },
    { name = "body", type = "text" },
  ]`

// subPartitionTree is tweets, tweets_europe (europe goes into its block) and its 2024 leaf.
func subPartitionTree(a *accDatabase, europe, leafExtra string) string {
	return a.ProviderConfig() + `
resource "pgshard_partitioned_table" "tweets" {
  name          = "tweets"
  columns       = ` + subPartitionColumns + `
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}

resource "pgshard_partitioned_table" "europe" {
  name         = "tweets_europe"
  partition_by = { strategy = "range", key = ["created_at"] }
  ` + europe + `
}

resource "pgshard_partition" "europe_2024" {
  parent      = pgshard_partitioned_table.europe.id
  name        = "tweets_europe_2024"
  values_from = ["2024-01-01"]
  values_to   = ["2025-01-01"]
  ` + leafExtra + `
}
`
}

const boundOfEurope = `SELECT coalesce((SELECT format('%s %s', i.inhparent::regclass, pg_get_expr(c.relpartbound, c.oid))
  FROM pg_inherits i WHERE i.inhrelid = c.oid), '<detached>') FROM pg_class c WHERE c.relname = 'tweets_europe'`

// A partitioned table with a parent is a partition of it, partitioned again: created with
// the parent's columns (left out), rows inserted through the top parent land in the leaf,
// import reads it back the same, a bound change and an out-of-band detach are repaired in
// place (refused while it holds a row outside its bound), removing parent detaches it, a
// table attached by hand without parent configured is left alone, a bound change is a
// replace refused while rows would be lost, and its destroy refuses while the leaf holds rows.
func TestAccPartitionedTable_SubPartitioned(t *testing.T) {
	a := newAccDatabase(t, nil)
	europe := `values_in = ["europe"]`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname LIKE 'tweets%'`)),
		Steps: []resource.TestStep{
			{
				Config: subPartitionConfig(a, europe, "", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("id"), knownvalue.StringExact("public.tweets_europe")),
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("parent"), knownvalue.StringExact("public.tweets")),
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("columns").AtSliceIndex(1).AtMapKey("type"), knownvalue.StringExact("timestamp with time zone")),
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("columns"), knownvalue.ListSizeExact(3)),
				},
				Check: dbChecks(
					a.ExpectQuery(`tweets FOR VALUES IN ('europe')`, boundOfEurope),
					a.ExpectQuery("p RANGE (created_at)", `SELECT relkind::text || ' ' || pg_get_partkeydef(oid) FROM pg_class WHERE relname = 'tweets_europe'`),
					a.ExpectQuery(`tweets_europe FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')`,
						`SELECT i.inhparent::regclass || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.relname = 'tweets_europe_2024'`),
					func() error {
						_, err := a.DB.Exec(`INSERT INTO tweets VALUES ('europe', '2024-06-01 12:00+00', 'hello')`)
						return err
					},
					a.ExpectQuery("hello", `SELECT body FROM ONLY tweets_europe_2024`),
				),
			},
			{Config: subPartitionConfig(a, europe, "", ""), PlanOnly: true},
			{ResourceName: "pgshard_partitioned_table.europe", ImportState: true, ImportStateVerify: true},
			{
				// A bound change replaces the table: refused at plan while its leaf holds rows.
				Config:      subPartitionConfig(a, `values_in = ["europe", "uk"]`, "", ""),
				ExpectError: expectError(`Partitioned Table Replace Refused.*public.tweets_europe.*public.tweets_europe_2024 \(1 rows\)`),
			},
			{
				// Detached out of band, with a row outside its bound meanwhile: the attach is
				// refused, naming it, and nothing changes.
				PreConfig: func() {
					a.Exec(t, `ALTER TABLE tweets DETACH PARTITION tweets_europe`)
					a.Exec(t, `INSERT INTO tweets_europe VALUES ('asia', '2024-07-01 12:00+00', 'stray')`)
				},
				Config:      subPartitionConfig(a, europe, "", ""),
				ExpectError: expectError(`tweets_europe" holds rows outside the bound.*in "public"."tweets".*nothing was changed`),
			},
			{
				// Without the stray row the plan attaches it again, in place, rows kept. (A
				// step's checks do not run after an expected error: nothing changed is
				// checked here.)
				PreConfig: func() {
					if err := a.ExpectQuery("<detached>", boundOfEurope)(); err != nil {
						t.Fatal(err)
					}
					a.Exec(t, `DELETE FROM tweets_europe WHERE body = 'stray'`)
				},
				Config: subPartitionConfig(a, europe, "", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_partitioned_table.europe", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					a.ExpectQuery(`tweets FOR VALUES IN ('europe')`, boundOfEurope),
					a.ExpectQuery("hello", `SELECT body FROM tweets WHERE location = 'europe'`),
					a.ExpectQuery("0", `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard%'`),
				),
			},
			{
				// Removing parent detaches it in place, rows kept.
				Config: subPartitionDetachedConfig(a),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_partitioned_table.europe", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					a.ExpectQuery("<detached>", boundOfEurope),
					a.ExpectQuery("1", `SELECT count(*) FROM tweets_europe`),
				),
			},
			{
				// Attached by hand while its configuration has no parent: left attached, no plan.
				PreConfig: func() { a.Exec(t, `ALTER TABLE tweets ATTACH PARTITION tweets_europe FOR VALUES IN ('europe')`) },
				Config:    subPartitionDetachedConfig(a),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: dbChecks(a.ExpectQuery(`tweets FOR VALUES IN ('europe')`, boundOfEurope)),
			},
			{
				// Configured again with parent: already its partition, nothing to do.
				Config: subPartitionConfig(a, europe, "", ""),
				Check:  dbChecks(a.ExpectQuery(`tweets FOR VALUES IN ('europe')`, boundOfEurope)),
			},
			{Config: subPartitionConfig(a, europe, "", ""), PlanOnly: true},
			{
				// Its destroy counts the rows of the leaf below it and is refused at plan.
				Config: a.ProviderConfig() + `
resource "pgshard_partitioned_table" "tweets" {
  name          = "tweets"
  columns       = ` + subPartitionColumns + `
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}`,
				ExpectError: expectError(`Partitioned Table Destroy Refused.*public.tweets_europe in database.*public.tweets_europe_2024 \(1 rows\)`),
			},
			{
				Config: subPartitionConfig(a, europe, "force_destroy = true", "force_destroy = true"),
				Check:  dbChecks(a.ExpectQuery("1", `SELECT count(*) FROM ONLY tweets_europe_2024`)),
			},
		},
	})
}

// handMadeTreeConfig manages a two-level tree made by hand: tweets LIST (location),
// tweets_europe RANGE (created_at) for europe, and its 2024 leaf.
func handMadeTreeConfig(a *accDatabase, force string) string {
	return a.ProviderConfig() + `
resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamptz", not_null = true },
    { name = "body", type = "text" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  ` + force + `
}

resource "pgshard_partitioned_table" "europe" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_europe"
  values_in     = ["europe"]
  partition_by  = { strategy = "range", key = ["created_at"] }
  ` + force + `
}

resource "pgshard_partition" "europe_2024" {
  parent        = pgshard_partitioned_table.europe.id
  name          = "tweets_europe_2024"
  values_from   = ["2024-01-01"]
  values_to     = ["2025-01-01"]
  ` + force + `
}

data "pgshard_partitions" "tweets" {
  parent     = pgshard_partitioned_table.tweets.id
  depends_on = [pgshard_partitioned_table.europe]
}
`
}

const handMadeTreeImports = `
import {
  to = pgshard_partitioned_table.tweets
  id = "public.tweets"
}

import {
  to = pgshard_partitioned_table.europe
  id = "public.tweets_europe"
}

import {
  to = pgshard_partition.europe_2024
  id = "public.tweets_europe_2024"
}
`

// A two-level tree made by hand imports with an empty plan; the shard map lists the
// sub-partitioned table with its bound; columns that are not the parent's are refused at
// plan; and a sub-partition may be a shard's parent: a foreign partition for a month of asia,
// whose rows inserted through the top parent land on the shard.
func TestAccPartitionedTable_SubPartitionedImportAndShard(t *testing.T) {
	a := newAccDatabase(t, nil)
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	a.Exec(t, `CREATE TABLE tweets (location text NOT NULL, created_at timestamptz NOT NULL, body text) PARTITION BY LIST (location)`)
	a.Exec(t, `CREATE TABLE tweets_europe PARTITION OF tweets FOR VALUES IN ('europe') PARTITION BY RANGE (created_at)`)
	a.Exec(t, `CREATE TABLE tweets_europe_2024 PARTITION OF tweets_europe FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`)
	a.Exec(t, `INSERT INTO tweets VALUES ('europe', '2024-02-02', 'made by hand')`)

	noop := func(addresses ...string) []plancheck.PlanCheck {
		var checks []plancheck.PlanCheck
		for _, address := range addresses {
			checks = append(checks, plancheck.ExpectResourceAction(address, plancheck.ResourceActionNoop))
		}
		return checks
	}
	asia := func(columns string) string {
		return `
resource "pgshard_partitioned_table" "asia" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_asia"
  values_in     = ["asia"]
  partition_by  = { strategy = "range", key = ["created_at"] }
  force_destroy = true
  ` + columns + `
}
`
	}
	shardAsia := `
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  name = "dblink"
}
` + serverConfig("asia", shard) + `
resource "pgshard_foreign_partition" "asia_2024" {
  parent              = pgshard_partitioned_table.asia.id
  name                = "tweets_asia_2024"
  server              = pgshard_foreign_server.asia.name
  values_from         = ["2024-01-01"]
  values_to           = ["2025-01-01"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.asia, pgshard_extension.dblink]
}
`
	// The parent's columns, in another order: PostgreSQL matches a partition's columns by name.
	asiaColumns := `columns = [
    { name = "body", type = "text" },
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamp with time zone", not_null = true },
  ]`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname LIKE 'tweets%'`)),
		Steps: []resource.TestStep{
			{
				Config: handMadeTreeConfig(a, "") + handMadeTreeImports,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: noop("pgshard_partitioned_table.tweets", "pgshard_partitioned_table.europe", "pgshard_partition.europe_2024"),
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("parent"), knownvalue.StringExact("public.tweets")),
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("values_in"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("europe")})),
					statecheck.ExpectKnownValue("pgshard_partitioned_table.europe", tfjsonpath.New("columns"), knownvalue.ListSizeExact(3)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					// The shard map lists the sub-partitioned table as a local partition of the top parent, with its bound.
					resource.TestCheckResourceAttr("data.pgshard_partitions.tweets", "partitions.#", "1"),
					resource.TestCheckResourceAttr("data.pgshard_partitions.tweets", "partitions.0.name", "tweets_europe"),
					resource.TestCheckResourceAttr("data.pgshard_partitions.tweets", "partitions.0.bound", "FOR VALUES IN ('europe')"),
					resource.TestCheckResourceAttr("data.pgshard_partitions.tweets", "partitions.0.foreign", "false"),
					dbChecks(a.ExpectQuery("made by hand", `SELECT body FROM ONLY tweets_europe_2024`)),
				),
			},
			{Config: handMadeTreeConfig(a, ""), PlanOnly: true},
			{
				Config: handMadeTreeConfig(a, "force_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_partitioned_table.europe", plancheck.ResourceActionUpdate)},
				},
			},
			{
				Config: handMadeTreeConfig(a, "force_destroy = true") + asia(`columns = [
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamptz", not_null = true },
    { name = "text", type = "text" },
  ]`),
				ExpectError: expectError(`Partitioned Table Columns Are Not The Parent's.*configured for public.tweets_asia.*columns body are missing.*columns text are not the parent's.*Leave columns out`),
			},
			{
				Config: handMadeTreeConfig(a, "force_destroy = true") + asia(asiaColumns) + shardAsia,
				Check: dbChecks(
					a.ExpectQuery(`tweets FOR VALUES IN ('asia')`, `SELECT i.inhparent::regclass || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.relname = 'tweets_asia'`),
					a.ExpectQuery(`tweets_asia f`, `SELECT i.inhparent::regclass || ' ' || c.relkind::text FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.relname = 'tweets_asia_2024'`),
					func() error {
						_, err := a.DB.Exec(`INSERT INTO tweets VALUES ('asia', '2024-08-08', 'to the shard')`)
						return err
					},
					shard.ExpectQuery("to the shard", `SELECT body FROM tweets_asia_2024`),
					a.ExpectQuery("0", `SELECT count(*) FROM ONLY tweets_asia`),
				),
			},
			{Config: handMadeTreeConfig(a, "force_destroy = true") + asia(asiaColumns) + shardAsia, PlanOnly: true},
			{ResourceName: "pgshard_partitioned_table.asia", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"force_destroy"}},
		},
	})
}

// A bound needs a parent, a parent needs exactly one bound, and a table without parent
// needs its columns: all refused while validating, before any connection.
func TestAccPartitionedTable_SubPartitionedValidation(t *testing.T) {
	table := func(body string) string {
		return noConnectionProviderConfig(t) + `
resource "pgshard_partitioned_table" "t" {
  name         = "t"
  partition_by = { strategy = "range", key = ["created_at"] }
  ` + body + `
}
`
	}
	columns := `columns = [{ name = "created_at", type = "timestamptz" }]`
	unitTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: table(columns + "\n  values_in = [\"europe\"]"), PlanOnly: true, ExpectError: expectError(`Bound Without Parent.*values_in is a partition bound.*Set parent`)},
			{Config: table(""), PlanOnly: true, ExpectError: expectError(`Missing Columns.*needs its columns.*set parent`)},
			{Config: table(`parent = "public.tweets"`), PlanOnly: true, ExpectError: expectError(`Missing Partition Bound`)},
			{Config: table("parent = \"public.tweets\"\n  values_in = [\"europe\"]\n  is_default = true"), PlanOnly: true, ExpectError: expectError(`Conflicting Partition Bounds`)},
			{Config: table("parent = \"public.tweets\"\n  is_default = true"), PlanOnly: true, ExpectError: expectError(`Partitioned DEFAULT Partition Not Supported.*pgshard_partition with is_default = true`)},
		},
	})
}

// Time first, region second: a sub-partitioned table with a RANGE bound written as a date
// of a timestamptz key, which the server prints otherwise. Plans after the create and an
// import by block plan nothing (the bound compares by meaning), and a row lands in its leaf.
func TestAccPartitionedTable_SubPartitionedBoundSpelling(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := a.ProviderConfig() + `
resource "pgshard_partitioned_table" "events" {
  name = "events"
  columns = [
    { name = "at", type = "timestamptz", not_null = true },
    { name = "location", type = "text", not_null = true },
  ]
  partition_by  = { strategy = "range", key = ["at"] }
}

resource "pgshard_partitioned_table" "y2024" {
  parent        = pgshard_partitioned_table.events.id
  name          = "events_2024"
  values_from   = ["2024-01-01"]
  values_to     = ["2025-01-01"]
  partition_by  = { strategy = "list", key = ["location"] }
}

resource "pgshard_partition" "y2024_europe" {
  parent        = pgshard_partitioned_table.y2024.id
  name          = "events_2024_europe"
  values_in     = ["europe"]
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					a.ExpectQuery("FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_2024'`),
					func() error { _, err := a.DB.Exec(`INSERT INTO events VALUES ('2024-05-05', 'europe')`); return err },
					a.ExpectQuery("1", `SELECT count(*) FROM ONLY events_2024_europe`),
				),
			},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{
				// Without force_destroy (which an import reads as false), and so without rows.
				PreConfig:       func() { a.Exec(t, `DELETE FROM events`) },
				Config:          config,
				ResourceName:    "pgshard_partitioned_table.y2024",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "public.events_2024",
			},
		},
	})
}
