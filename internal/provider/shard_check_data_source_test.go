package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// shardCheckConfig is the data source over the tweets of shardedTweets.config, read during
// the apply, after every partition exists.
const shardCheckConfig = `
data "pgshard_shard_check" "tweets" {
  parent     = pgshard_partitioned_table.tweets.id
  depends_on = [pgshard_foreign_partition.europe, pgshard_foreign_partition.usa, pgshard_partition.default]
}
`

// shardCheckAtPlan is the same data source read while Terraform plans, even when a partition
// has changes planned.
const shardCheckAtPlan = `
data "pgshard_shard_check" "tweets" {
  parent = "public.tweets"
}
`

// residencyIs expects the data source's partitions, each as "name|server|bound|rows/outside"
// (a foreign partition is one with a server), and its default_rows_claimed and ok.
func residencyIs(address string, claimed int64, ok bool, parts ...string) []statecheck.StateCheck {
	list := make([]knownvalue.Check, len(parts))
	for i, p := range parts {
		f := strings.Split(p, "|")
		var rows, outside int64
		if _, err := fmt.Sscanf(f[3], "%d/%d", &rows, &outside); err != nil {
			panic(fmt.Sprintf("residencyIs(%q): %v", p, err))
		}
		list[i] = knownvalue.ObjectExact(map[string]knownvalue.Check{
			"name": knownvalue.StringExact(f[0]), "foreign": knownvalue.Bool(f[1] != ""), "server": knownvalue.StringExact(f[1]),
			"bound": knownvalue.StringExact(f[2]), "rows": knownvalue.Int64Exact(rows), "rows_outside_bound": knownvalue.Int64Exact(outside),
		})
	}
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue(address, tfjsonpath.New("partitions"), knownvalue.ListExact(list)),
		statecheck.ExpectKnownValue(address, tfjsonpath.New("default_rows_claimed"), knownvalue.Int64Exact(claimed)),
		statecheck.ExpectKnownValue(address, tfjsonpath.New("ok"), knownvalue.Bool(ok)),
	}
}

// The check counts each partition's rows where they live, and sees a row written on a shard
// whose bound CHECK was dropped: it is outside the bound, and queries pruned to its own
// partition miss it. Once the row is gone, the next apply puts the CHECK back.
func TestAccShardCheck_ShardedTweets(t *testing.T) {
	s := newShardedTweets(t)
	config := s.config(`["europe"]`, "force_destroy = true") + shardCheckConfig
	atPlan := s.config(`["europe"]`, "force_destroy = true") + shardCheckAtPlan
	const ds = "data.pgshard_shard_check.tweets"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: residencyIs(ds, 0, true,
					"public.europe_tweets|europe|FOR VALUES IN ('europe')|0/0",
					"public.tweets_default||DEFAULT|0/0",
					"public.us_tweets|usa|FOR VALUES IN ('usa')|0/0"),
			},
			{
				PreConfig: func() {
					s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('europe', 'hoi'), ('usa', 'howdy'), ('mars', 'beep')`)
				},
				Config: config,
				ConfigStateChecks: residencyIs(ds, 0, true,
					"public.europe_tweets|europe|FOR VALUES IN ('europe')|2/0",
					"public.tweets_default||DEFAULT|1/0",
					"public.us_tweets|usa|FOR VALUES IN ('usa')|1/0"),
			},
			{
				Config: atPlan,
			},
			{
				// Out of band on the Europe shard: the bound CHECK goes, and a usa row comes in.
				// RefreshState reads the data source without applying the CHECK's repair, which
				// the shard would refuse while it holds the row.
				PreConfig: func() {
					s.europe.Exec(t, `ALTER TABLE europe_tweets DROP CONSTRAINT europe_tweets_bound`)
					s.europe.Exec(t, `INSERT INTO europe_tweets (location, text, like_count) VALUES ('usa', 'wrong shard', 0)`)
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(ds, "partitions.0.name", "public.europe_tweets"),
					resource.TestCheckResourceAttr(ds, "partitions.0.rows", "3"),
					resource.TestCheckResourceAttr(ds, "partitions.0.rows_outside_bound", "1"),
					resource.TestCheckResourceAttr(ds, "partitions.2.rows_outside_bound", "0"),
					resource.TestCheckResourceAttr(ds, "default_rows_claimed", "0"),
					resource.TestCheckResourceAttr(ds, "ok", "false"),
					// What the check guards against: pruned to us_tweets, the parent misses the row.
					dbChecks(
						s.base.ExpectQuery("1", `SELECT count(*) FROM tweets WHERE location = 'usa'`),
						s.base.ExpectQuery("2", `SELECT count(*) FROM tweets WHERE location || '' = 'usa'`),
					),
				),
			},
			{
				// The row removed, the apply repairs the CHECK, and the check reads after it.
				PreConfig: func() { s.europe.Exec(t, `DELETE FROM europe_tweets WHERE location = 'usa'`) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: residencyIs(ds, 0, true,
					"public.europe_tweets|europe|FOR VALUES IN ('europe')|2/0",
					"public.tweets_default||DEFAULT|1/0",
					"public.us_tweets|usa|FOR VALUES IN ('usa')|1/0"),
				Check: dbChecks(s.europe.ExpectQuery("1", `SELECT count(*) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`)),
			},
		},
	})
}

// checkBlockIs expects the named check block's status and, when it failed, its message.
type checkBlockIs struct{ name, status, message string }

func (c checkBlockIs) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	for _, r := range req.State.Checks {
		if r.Address.Kind != "check" || r.Address.Name != c.name {
			continue
		}
		var problems []string
		for _, i := range r.Instances {
			for _, p := range i.Problems {
				problems = append(problems, p.Message)
			}
		}
		if string(r.Status) != c.status || c.message != "" && !strings.Contains(strings.Join(problems, "\n"), c.message) {
			resp.Error = fmt.Errorf("check %q is %s with problems %q; want %s with %q", c.name, r.Status, problems, c.status, c.message)
		}
		return
	}
	resp.Error = fmt.Errorf("no result for check %q in the state", c.name)
}

// In a check block, a failed residency check is a warning: the apply succeeds, and the state
// records the failure with its message. The first plan reads the data source before the
// table exists, which in a check block is a warning too; the apply reads it again. The Europe shard table is made by hand, without the
// bound CHECK, so that a stray row is no drift for the provider to repair.
func TestAccShardCheck_CheckBlock(t *testing.T) {
	s := newShardedTweets(t)
	s.europe.Exec(t, `CREATE TABLE europe_tweets (id int4 NOT NULL, location varchar NOT NULL, text text, owner_id int8, like_count int4 NOT NULL DEFAULT 0)`)
	s.europe.Exec(t, `INSERT INTO europe_tweets (id, location, text) VALUES (1, 'europe', 'hallo'), (2, 'usa', 'wrong shard')`)
	// The check block is the documentation's example.
	example, err := os.ReadFile("../../examples/data-sources/pgshard_shard_check/data-source.tf")
	if err != nil {
		t.Fatal(err)
	}
	config := strings.NewReplacer(
		`remote_identity     = { column = "id", start = 1000000000, increment = 1 }`, "",
		"values_in           = local.shards.europe.values\n  create_remote_table = true", "values_in = local.shards.europe.values",
	).Replace(s.config(`["europe"]`, "force_destroy = true")) + string(example)
	const ds = "data.pgshard_shard_check.tweets"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Terraform always plans to read a check block's data source again during the
				// apply, so no plan with a check block is empty.
				Config:             config,
				ExpectNonEmptyPlan: true,
				ConfigStateChecks: append(residencyIs(ds, 0, false,
					"public.europe_tweets|europe|FOR VALUES IN ('europe')|2/1",
					"public.tweets_default||DEFAULT|0/0",
					"public.us_tweets|usa|FOR VALUES IN ('usa')|0/0"),
					checkBlockIs{"residency", "fail", `Rows of public.tweets are outside their partition's bound: {"public.europe_tweets":1}; rows in DEFAULT that another partition's bound admits: 0.`}),
			},
			{
				PreConfig:          func() { s.europe.Exec(t, `DELETE FROM europe_tweets WHERE location = 'usa'`) },
				Config:             config,
				ExpectNonEmptyPlan: true,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("ok"), knownvalue.Bool(true)),
					checkBlockIs{"residency", "pass", ""},
				},
			},
		},
	})
}

// default_rows_claimed counts the DEFAULT rows that another bound admits. PostgreSQL keeps
// that at 0 unless something goes around it; here, the IMMUTABLE function of the partition
// key is redefined, which moves keys to another bound without moving their rows.
func TestAccShardCheck_DefaultRowsClaimed(t *testing.T) {
	a := newAccDatabase(t, nil)
	for _, stmt := range []string{
		`CREATE FUNCTION region(country text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT CASE country WHEN 'fr' THEN 'europe' WHEN 'us' THEN 'usa' END $$`,
		`CREATE SCHEMA "app.data"`,
		`CREATE TABLE "app.data".users (id int, country text) PARTITION BY LIST (region(country))`,
		`CREATE TABLE "app.data".europe PARTITION OF "app.data".users FOR VALUES IN ('europe')`,
		`CREATE TABLE "app.data".usa PARTITION OF "app.data".users FOR VALUES IN ('usa')`,
		`CREATE TABLE "app.data".other PARTITION OF "app.data".users DEFAULT`,
		`INSERT INTO "app.data".users VALUES (1, 'fr'), (2, 'us'), (3, 'ca'), (4, 'ca'), (5, NULL)`,
	} {
		a.Exec(t, stmt)
	}
	config := a.ProviderConfig() + `
data "pgshard_shard_check" "users" {
  parent = "\"app.data\".users"
}
`
	const ds = "data.pgshard_shard_check.users"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: residencyIs(ds, 0, true,
					`"app.data".europe||FOR VALUES IN ('europe')|1/0`,
					`"app.data".other||DEFAULT|3/0`,
					`"app.data".usa||FOR VALUES IN ('usa')|1/0`),
			},
			{
				PreConfig: func() {
					a.Exec(t, `CREATE OR REPLACE FUNCTION region(country text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT CASE country WHEN 'fr' THEN 'europe' WHEN 'us' THEN 'usa' WHEN 'ca' THEN 'usa' END $$`)
				},
				Config: config,
				ConfigStateChecks: residencyIs(ds, 2, false,
					`"app.data".europe||FOR VALUES IN ('europe')|1/0`,
					`"app.data".other||DEFAULT|3/0`,
					`"app.data".usa||FOR VALUES IN ('usa')|1/0`),
			},
		},
	})
}

// A parent that does not exist, or is not partitioned, fails the read with its name.
func TestAccShardCheck_NotPartitioned(t *testing.T) {
	a := newAccDatabase(t, nil)
	a.Exec(t, `CREATE TABLE plain (id int)`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      a.ProviderConfig() + `data "pgshard_shard_check" "t" { parent = "missing" }`,
				ExpectError: expectError(`Shard Check Read Error .* Could not read the rows of the partitions of public.missing in database "` + a.Name + `": the table public.missing does not exist`),
			},
			{
				Config:      a.ProviderConfig() + `data "pgshard_shard_check" "t" { parent = "public.plain" }`,
				ExpectError: expectError(`public.plain is not a partitioned table`),
			},
		},
	})
}

// unknownSettingsConfig is a provider whose port is known only after the apply.
const unknownSettingsConfig = `
resource "terraform_data" "db" {
  input = { port = 1 }
}

provider "pgshard" {
  host            = "127.0.0.1"
  port            = terraform_data.db.output.port
  connect_timeout = 1
}
`

// checkBlockPlanned expects the named check block's status in the plan.
type checkBlockPlanned struct{ name, status string }

func (c checkBlockPlanned) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, r := range req.Plan.Checks {
		if r.Address.Kind == "check" && r.Address.Name == c.name {
			if string(r.Status) != c.status {
				resp.Error = fmt.Errorf("check %q is %s in the plan, want %s", c.name, r.Status, c.status)
			}
			return
		}
	}
	resp.Error = fmt.Errorf("no result for check %q in the plan", c.name)
}

// While the provider's connection settings are unknown (they come from a resource this run
// creates), the data source cannot be read at plan time, and says so without connecting. In a
// check block, Terraform turns that into a warning and the check fails: the plan goes on.
// With depends_on on the resources the settings come from, it is read at apply.
func TestShardCheckDataSource_UnknownSettings(t *testing.T) {
	unitTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: unknownSettingsConfig + `
check "residency" {
  data "pgshard_shard_check" "tweets" {
    parent = "public.tweets"
  }

  assert {
    condition     = data.pgshard_shard_check.tweets.ok
    error_message = "Rows are outside their partition's bound."
  }
}
`,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPreRefresh: []plancheck.PlanCheck{checkBlockPlanned{"residency", "fail"}},
				},
			},
			{
				Config:      unknownSettingsConfig + `data "pgshard_shard_check" "tweets" { parent = "public.tweets" }`,
				PlanOnly:    true,
				ExpectError: expectError(`Shard Check Not Run .* Could not check the rows of the partitions of public.tweets: the provider's connection settings are not known yet`),
			},
			{
				Config: unknownSettingsConfig + `
data "pgshard_shard_check" "tweets" {
  parent     = "public.tweets"
  depends_on = [terraform_data.db]
}
`,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// The parent is validated at plan time like every table reference.
func TestShardCheckDataSource_InvalidParent(t *testing.T) {
	unitTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      noConnectionProviderConfig(t) + `data "pgshard_shard_check" "t" { parent = "public.` + strings.Repeat("x", 64) + `" }`,
			PlanOnly:    true,
			ExpectError: expectError(`Invalid Table Reference`),
		}},
	})
}
