//go:build tf114

package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/querycheck"
	"github.com/hashicorp/terraform-plugin-testing/querycheck/queryfilter"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// listQuery is a query of every list resource, filtered by config (HCL inside config {}), of
// the provider that the configuration beside it (base.ProviderConfig) configures.
func listQuery(include bool, config map[string]string) string {
	var q string
	for _, typ := range sortedKeys(listFilterOf) {
		q += fmt.Sprintf(`
list %q "all" {
  provider         = pgshard
  include_resource = %t
  config {
    %s
  }
}
`, typ, include, config[typ])
	}
	return q
}

// listFilterOf is each list resource's filters (a test that adds one adds it here).
var listFilterOf = map[string][]string{
	"pgshard_extension": nil, "pgshard_foreign_server": {"server"}, "pgshard_user_mapping": {"server"},
	"pgshard_foreign_server_usage": {"server"}, "pgshard_partitioned_table": {"schema", "parent"},
	"pgshard_partition": {"schema", "parent"}, "pgshard_foreign_partition": {"schema", "parent", "server"}, "pgshard_table": {"schema"},
	"pgshard_foreign_schema_import": {"schema", "server"}, "pgshard_time_partitions": {"schema"},
	"pgshard_settings": nil,
}

// terraform query finds the tutorial's hand-made stack, one object per list resource (but
// tables: the stack has none that is not a partition), each with its identity; a filter
// that matches nothing finds nothing; with include_resource the objects are the imported
// ones.
func TestAccList_HandMadeStack(t *testing.T) {
	s := newHandMadeStack(t)
	// And a table of the shard's public schema imported by hand (what IMPORT FOREIGN SCHEMA
	// makes: the remote schema and table as options).
	s.base.Exec(t, `CREATE SCHEMA imported`)
	// And a log table partitioned by month (a parent for pgshard_time_partitions) with one
	// month made by hand; its month is a partition too.
	s.base.Exec(t, `CREATE SCHEMA app_logs`)
	s.base.Exec(t, `CREATE TABLE app_logs.logs (at timestamptz NOT NULL, line text) PARTITION BY RANGE (at)`)
	s.base.Exec(t, `CREATE TABLE app_logs.logs_p20261201 PARTITION OF app_logs.logs FOR VALUES FROM ('2026-12-01 00:00+00') TO ('2027-01-01 00:00+00')`)
	s.base.Exec(t, `CREATE FOREIGN TABLE imported.europe_tweets (id bigint NOT NULL, location text NOT NULL, body text) SERVER europe OPTIONS (schema_name 'public', table_name 'europe_tweets')`)
	// And the planner settings of the tuning guide, for the database's sessions.
	s.base.Exec(t, `ALTER DATABASE `+quoteIdent(s.base.Name)+` SET enable_partitionwise_aggregate = on`)
	if len(listFilterOf) != len(listResources) {
		t.Fatalf("the test knows %d list resources, the provider has %d", len(listFilterOf), len(listResources))
	}
	mapping, usage := postgres.JoinID('/', "europe", s.app), postgres.JoinID('/', "europe", s.app)
	ids := map[string]string{
		"pgshard_extension": "postgres_fdw", "pgshard_foreign_server": "europe", "pgshard_user_mapping": mapping,
		"pgshard_foreign_server_usage": usage, "pgshard_partitioned_table": "public.tweets",
		"pgshard_partition": "public.tweets_default", "pgshard_foreign_partition": "public.europe_tweets",
		"pgshard_foreign_schema_import": "imported/europe/public", "pgshard_time_partitions": "app_logs.logs",
		"pgshard_settings": s.base.Name + "/",
	}
	var found []querycheck.QueryResultCheck
	for _, typ := range sortedKeys(listFilterOf) {
		addr := typ + ".all"
		if id, ok := ids[typ]; ok {
			found = append(found, querycheck.ExpectLength(addr, 1), querycheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringExact(id)}))
		} else {
			found = append(found, querycheck.ExpectLength(addr, 0))
		}
	}
	none := map[string]string{
		"pgshard_foreign_server": `server = "asia"`, "pgshard_user_mapping": `server = "asia"`, "pgshard_foreign_server_usage": `server = "asia"`,
		"pgshard_partitioned_table": `schema = "other"`, "pgshard_partition": `parent = "public.other"`,
		"pgshard_foreign_partition": `server = "asia"`, "pgshard_table": `schema = "public"`,
		"pgshard_foreign_schema_import": `schema = "public"`, "pgshard_time_partitions": `schema = "other"`,
	}
	var nothing []querycheck.QueryResultCheck
	for typ := range none {
		nothing = append(nothing, querycheck.ExpectLength(typ+".all", 0))
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   needs114,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: s.base.ProviderConfig()},
			{Query: true, Config: listQuery(false, map[string]string{
				"pgshard_partitioned_table": `schema = "public"`, "pgshard_partition": `schema = "public"`,
			}), QueryResultChecks: found},
			{Query: true, Config: listQuery(false, map[string]string{"pgshard_partition": `parent = "app_logs.logs"`}), QueryResultChecks: []querycheck.QueryResultCheck{
				querycheck.ExpectLength("pgshard_partitioned_table.all", 2),
				querycheck.ExpectIdentity("pgshard_partition.all", map[string]knownvalue.Check{"id": knownvalue.StringExact("app_logs.logs_p20261201")}),
			}},
			{Query: true, Config: listQuery(false, none), QueryResultChecks: nothing},
			{Query: true, Config: listQuery(true, map[string]string{"pgshard_foreign_partition": `server = "europe"`}), QueryResultChecks: []querycheck.QueryResultCheck{
				querycheck.ExpectResourceKnownValues("pgshard_foreign_partition.all", queryfilter.ByResourceIdentity(map[string]knownvalue.Check{"id": knownvalue.StringExact("public.europe_tweets")}), []querycheck.KnownValueCheck{
					{Path: tfjsonpath.New("values_in"), KnownValue: knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("europe")})},
					{Path: tfjsonpath.New("server"), KnownValue: knownvalue.StringExact("europe")},
					{Path: tfjsonpath.New("remote_table"), KnownValue: knownvalue.StringExact("europe_tweets")},
				}),
			}},
		},
	})
}

// The tutorial's hand-made stack, found by terraform query -generate-config-out and applied
// (the real CLI): the apply imports every object and changes nothing in the database (the
// rows read through the base are those of before), and the next plan is empty. The user
// mapping's password cannot be read back: the generated block leaves it out, and the user
// adds it as the adoption guide says.
func TestAccList_GenerateConfigAdoptsHandMadeStack(t *testing.T) {
	s := newHandMadeStack(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(s.base.ProviderConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stack.tfquery.hcl"), []byte(listQuery(true, nil)), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := postgrestest.NewWorkspace(t, dir)
	requireCLI114(t)
	before, err := s.appReads()
	if err != nil {
		t.Fatal(err)
	}
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "query", "-no-color", "-generate-config-out=generated.tf")
	generated, err := os.ReadFile(filepath.Join(ws.Dir, "generated.tf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated.tf:\n%s", generated)
	for _, want := range []string{`resource "pgshard_foreign_partition"`, `resource "pgshard_user_mapping"`, "import {", `id = "public.europe_tweets"`} {
		if !strings.Contains(string(generated), want) {
			t.Errorf("generated.tf lacks %s", want)
		}
	}
	// What the adoption guide tells the user to fill in: the mapping's password.
	blank := regexp.MustCompile(`\n  password +=  *null # sensitive\n`)
	if len(blank.FindAllString(string(generated), -1)) != 1 {
		t.Fatalf("generated.tf should leave one password blank, the user mapping's:\n%s", generated)
	}
	fixed := blank.ReplaceAllLiteralString(string(generated), fmt.Sprintf("\n  password = %q\n", s.remotePassword))
	if err := os.WriteFile(filepath.Join(ws.Dir, "generated.tf"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	out := ws.Must(t, "apply", "-auto-approve", "-no-color")
	if !strings.Contains(out, "0 added, 0 changed, 0 destroyed") {
		t.Errorf("the apply of the generated configuration changed something:\n%s", out)
	}
	after, err := s.appReads()
	if err != nil || after != before {
		t.Errorf("the application reads %q (%v) after the adoption, %q before", after, err, before)
	}
	ws.PlanIsEmpty(t)
}
