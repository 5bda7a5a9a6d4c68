package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// regionStack is a tweets table on a base database, with a DEFAULT partition, and one region
// on a shard database, rendered with or without the region's resources.
type regionStack struct {
	base, shard *accDatabase
}

func newRegionStack(t *testing.T) *regionStack {
	return &regionStack{
		base:  newAccDatabase(t, nil),
		shard: newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 }),
	}
}

// config renders the stack; region is the foreign partition's extra attributes, "-" for no
// region at all. The parent's and DEFAULT's force_destroy stay false.
func (s *regionStack) config(region string) string {
	cfg := s.base.ProviderConfig() + `
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  name = "dblink"
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "body", type = "text" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = false
}

resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_default"
  is_default    = true
  force_destroy = false
}
`
	if region == "-" {
		return cfg
	}
	return cfg + fmt.Sprintf(`
resource "pgshard_foreign_server" "asia" {
  name       = "asia"
  host       = %q
  port       = %d
  dbname     = %q
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" "asia" {
  server   = pgshard_foreign_server.asia.name
  user     = "postgres"
  password = %q
}

resource "pgshard_foreign_partition" "asia" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "asia_tweets"
  server              = pgshard_foreign_server.asia.name
  values_in           = ["asia"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.asia, pgshard_extension.dblink]
  %s
}
`, s.shard.Cluster.Host, s.shard.Cluster.Port, s.shard.Name, s.shard.Cluster.Password, region)
}

// Adding a region while DEFAULT holds rows of its key is refused at plan, naming the count
// and the fix, before the apply creates the server and the mapping; with
// move_rows_from_default the rows move to the shard.
func TestAccForeignPartition_CreateRefusedAtPlanByDefaultRows(t *testing.T) {
	s := newRegionStack(t)
	noServer := s.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server WHERE srvname = 'asia'`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: s.config("-"),
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, body) VALUES ('asia', 'a'), ('asia', 'b'), ('asia', 'c'), ('mars', 'd')`)
					return err
				}),
			},
			{
				Config:      s.config(""),
				ExpectError: expectError(`Foreign Partition Create Refused.*3 rows in the DEFAULT partition public.tweets_default match its bound.*move_rows_from_default = true`),
			},
			{
				// Nothing of the refused plan was applied: no server, the rows still in DEFAULT.
				PreConfig: func() {
					if err := dbChecks(noServer, s.base.ExpectQuery("4", `SELECT count(*) FROM ONLY tweets_default`))(nil); err != nil {
						t.Error(err)
					}
				},
				Config: s.config("move_rows_from_default = true"),
				Check: dbChecks(
					s.shard.ExpectQuery("a,b,c", `SELECT string_agg(body, ',' ORDER BY body) FROM asia_tweets`),
					s.base.ExpectQuery("1", `SELECT count(*) FROM ONLY tweets_default`),
					func() error { _, err := s.base.DB.Exec(`DELETE FROM ONLY tweets_default`); return err }, // for the destroy
				),
			},
		},
	})
}

// bare is the stack with nothing but the extensions: every table of it destroyed.
func (s *regionStack) bare() string {
	return s.base.ProviderConfig() + `
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  name = "dblink"
}
`
}

// A tainted partition holding rows is replaced as a create (Terraform plans no destroy of
// its own), and its plan still refuses what the destroy would lose, naming the rows.
func TestAccPartition_TaintedReplaceRefusedAtPlan(t *testing.T) {
	s := newRegionStack(t)
	config := s.config("-") + `
resource "pgshard_partition" "europe" {
  parent    = pgshard_partitioned_table.tweets.id
  name      = "tweets_europe"
  values_in = ["europe"]
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, body) VALUES ('europe', 'a'), ('europe', 'b')`)
					return err
				}),
			},
			{
				Taint:       []string{"pgshard_partition.europe"},
				Config:      config,
				ExpectError: expectError(`Partition Replace Refused.*tweets_europe, which exists already.*tainted.*public.tweets_europe \(2 rows\)`),
			},
			{
				// The refused replace dropped nothing; without rows, the tainted partition is replaced.
				PreConfig: func() {
					if err := dbChecks(s.base.ExpectQuery("2", `SELECT count(*) FROM ONLY tweets_europe`))(nil); err != nil {
						t.Error(err)
					}
					s.base.Exec(t, `DELETE FROM tweets`)
				},
				Config: config,
				Check:  dbChecks(s.base.ExpectQuery("FOR VALUES IN ('europe')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'tweets_europe'`)),
			},
		},
	})
}

// Shard tables keep their rows when the stack is destroyed; applied again, the parent's new
// sequence is set past the ids the shard table holds, so no id repeats.
func TestAccForeignPartition_SequencePastAdoptedIds(t *testing.T) {
	s := newRegionStack(t)
	insert := func(location, want string) func() error {
		return s.base.ExpectQuery(want, `INSERT INTO tweets (location, body) VALUES ($1, 'x') RETURNING id`, location)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: s.config(""),
				Check:  dbChecks(insert("asia", "1"), insert("asia", "2"), insert("asia", "3")),
			},
			{
				Config: s.bare(),
				Check: dbChecks(
					s.shard.ExpectQuery("1,2,3", `SELECT string_agg(id::text, ',' ORDER BY id) FROM asia_tweets`),
					s.base.ExpectQuery("<null>", `SELECT to_regclass('public.tweets')::text`),
				),
			},
			{
				Config: s.config(""),
				Check: dbChecks(
					insert("asia", "4"), insert("mars", "5"),
					s.shard.ExpectQuery("1,2,3,4", `SELECT string_agg(id::text, ',' ORDER BY id) FROM asia_tweets`),
					func() error { _, err := s.base.DB.Exec(`DELETE FROM ONLY tweets_default`); return err }, // for the destroy
				),
			},
		},
	})
}

// A drift repair that sets a shard's bound CHECK again while the shard holds a row outside
// the (unchanged) bound is refused at plan, with the count made on the shard and the true
// cause; once the row is gone, the apply repairs the CHECK.
func TestAccForeignPartition_RepairFlaggedAtPlanByShardRows(t *testing.T) {
	s := newRegionStack(t)
	config := s.config("")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					s.shard.Exec(t, `ALTER TABLE asia_tweets DROP CONSTRAINT asia_tweets_bound`)
					s.shard.Exec(t, `INSERT INTO asia_tweets (id, location, body) VALUES (100, 'europe', 'stray')`)
				},
				Config: config,
				// The plan warns (Foreign Partition Repair Will Fail); the apply fails, changing nothing, naming the true cause.
				ExpectError: expectError(`Foreign Partition Update Error.*holds 1 rows outside the partition's bound, so its bound CHECK constraint "asia_tweets_bound" cannot be set again.*The repair does not change the partition's bound FOR VALUES IN \('asia'\)`),
			},
			{
				PreConfig: func() { s.shard.Exec(t, `DELETE FROM asia_tweets WHERE id = 100`) },
				Config:    config,
				Check: dbChecks(s.shard.ExpectQuery("CHECK ((location = 'asia'::text))",
					`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'asia_tweets_bound'`)),
			},
		},
	})
}

// A tainted pgshard_table or pgshard_partitioned_table whose rows the replacement would
// drop is refused at plan, like any other replace; the table keeps its rows.
func TestAccTable_TaintedReplaceRefusedAtPlan(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := a.ProviderConfig() + `
resource "pgshard_table" "t" {
  name    = "kept"
  columns = [{ name = "id", type = "integer" }]
}

resource "pgshard_partitioned_table" "p" {
  name         = "kept_parent"
  columns      = [{ name = "k", type = "text" }]
  partition_by = { strategy = "list", key = ["k"] }
}

resource "pgshard_partition" "d" {
  parent     = pgshard_partitioned_table.p.id
  name       = "kept_default"
  is_default = true
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(func() error {
					if _, err := a.DB.Exec(`INSERT INTO kept VALUES (1), (2)`); err != nil {
						return err
					}
					_, err := a.DB.Exec(`INSERT INTO kept_parent VALUES ('x')`)
					return err
				}),
			},
			{
				Taint:       []string{"pgshard_table.t"},
				Config:      config,
				ExpectError: expectError(`Table Replace Refused.*public.kept, which exists already.*tainted.*public.kept \(2 rows\)`),
			},
			{
				Taint:       []string{"pgshard_partitioned_table.p"},
				Config:      config,
				ExpectError: expectError(`Partitioned Table Replace Refused.*public.kept_parent, which exists.*public.kept_default \(1 rows\)`),
			},
			{
				PreConfig: func() {
					if err := dbChecks(a.ExpectQuery("2", `SELECT count(*) FROM kept`), a.ExpectQuery("1", `SELECT count(*) FROM kept_parent`))(nil); err != nil {
						t.Error(err)
					}
					a.Exec(t, `DELETE FROM kept`)
					a.Exec(t, `DELETE FROM kept_parent`)
				},
				// Without rows the tainted ones are replaced. The parent's replacement drops its
				// partitions with it (PostgreSQL does), so the next plan creates the DEFAULT again.
				Config:             config,
				ExpectNonEmptyPlan: true,
			},
			{Config: config},
		},
	})
}
