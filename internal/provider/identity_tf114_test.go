//go:build tf114

package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Every resource type has an identity, {id}, equal to its id: after the apply each one's
// identity is in the state, and an import block that gives the identity instead of an ID
// imports it with a plan that changes nothing. A new resource type must be added here.
func TestAccIdentity_EveryResourceImports(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	shard.Exec(t, `CREATE SCHEMA remote`)
	shard.Exec(t, `CREATE TABLE remote.countries (code text PRIMARY KEY, name text)`)
	base.Exec(t, `CREATE SCHEMA imported`)
	config := base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_extension" "trgm" { name = "pg_trgm" }

resource "pgshard_foreign_server" "archive" {
  name   = "archive"
  host   = %q
  port   = %d
  dbname = %q
}

resource "pgshard_user_mapping" "archive" {
  server   = pgshard_foreign_server.archive.name
  user     = "postgres"
  password = %q
}

resource "pgshard_foreign_server_usage" "archive" {
  server = pgshard_foreign_server.archive.name
  role   = "PUBLIC"
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamptz", not_null = true, default = "now()" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
}

resource "pgshard_foreign_partition" "europe" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "tweets_europe"
  server              = "europe"
  values_in           = ["europe"]
  create_remote_table = true
}

resource "pgshard_partition" "default" {
  parent     = pgshard_partitioned_table.tweets.id
  name       = "tweets_default"
  is_default = true
}

resource "pgshard_partitioned_table" "asia" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_asia"
  values_in     = ["asia"]
  partition_by  = { strategy = "range", key = ["created_at"] }
}

resource "pgshard_time_partitions" "asia" {
  parent        = pgshard_partitioned_table.asia.id
  interval      = "1 month"
}

resource "pgshard_table" "plain" {
  name          = "plain"
  columns       = [{ name = "id", type = "bigint" }]
}

resource "pgshard_foreign_schema_import" "remote" {
  server        = "europe"
  remote_schema = "remote"
  local_schema  = "imported"
}
`, shard.Cluster.Host, shard.Cluster.Port, shard.Name, shard.Cluster.Password)
	config += fmt.Sprintf(`
resource "pgshard_settings" "planner" {
  database = %q
  settings = { enable_partitionwise_aggregate = "on" }
}
`, base.Name)

	ids := map[string]string{
		"pgshard_extension.trgm":               "pg_trgm",
		"pgshard_foreign_server.archive":       "archive",
		"pgshard_partitioned_table.tweets":     "public.tweets",
		"pgshard_foreign_partition.europe":     "public.tweets_europe",
		"pgshard_partition.default":            "public.tweets_default",
		"pgshard_partitioned_table.asia":       "public.tweets_asia",
		"pgshard_time_partitions.asia":         "public.tweets_asia",
		"pgshard_table.plain":                  "public.plain",
		"pgshard_user_mapping.archive":         "",
		"pgshard_foreign_server_usage.archive": "",
		"pgshard_foreign_schema_import.remote": "",
		"pgshard_settings.planner":             base.Name + "/",
	}
	for _, typ := range resourceTypeNames(t) {
		found := false
		for addr := range ids {
			found = found || strings.HasPrefix(addr, typ+".")
		}
		if !found {
			t.Errorf("no %s is imported by identity here: add one", typ)
		}
	}

	var checks []statecheck.StateCheck
	steps := []resource.TestStep{{Config: config}}
	for _, addr := range sortedKeys(ids) {
		checks = append(checks, statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")))
		if id := ids[addr]; id != "" {
			checks = append(checks, statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringExact(id)}))
		}
		steps = append(steps, resource.TestStep{
			Config: config, ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity,
		})
	}
	steps[0].ConfigStateChecks = checks
	// Dropped out of band: the refresh drops it from the state, identity and all, and the
	// plan creates it again.
	steps = append(steps, resource.TestStep{
		PreConfig: func() { base.Exec(t, `DROP TABLE plain`) },
		Config:    config,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_table.plain", plancheck.ResourceActionCreate)},
		},
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectIdentity("pgshard_table.plain", map[string]knownvalue.Check{"id": knownvalue.StringExact("public.plain")}),
		},
	})
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   needs114,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    steps,
	})
}
