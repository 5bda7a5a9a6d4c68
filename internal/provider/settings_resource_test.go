package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// settingsOf is the catalog's settings of a database and role pair, sorted, or "<none>".
const settingsOf = `SELECT coalesce((SELECT array_to_string(ARRAY(SELECT unnest(s.setconfig) ORDER BY 1), ' | ')
FROM pg_db_role_setting s
WHERE s.setdatabase = coalesce((SELECT oid FROM pg_database WHERE datname = $1), 0)
  AND s.setrole = coalesce((SELECT oid FROM pg_roles WHERE rolname = $2), 0)), '<none>')`

func TestAccSettings_Lifecycle(t *testing.T) {
	a := newAccDatabase(t, nil)
	const addr = "pgshard_settings.planner"
	config := func(settings string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "planner" {
  database = %q
  settings = { %s }
}`, a.Name, settings)
	}
	catalog := func(want string) func() error { return a.ExpectQuery(want, settingsOf, a.Name, "") }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(catalog("<none>")),
		Steps: []resource.TestStep{
			{
				Config: config(`enable_partitionwise_aggregate = "on", enable_partitionwise_join = "on"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(a.Name+"/")),
				},
				Check: dbChecks(catalog("enable_partitionwise_aggregate=on | enable_partitionwise_join=on")),
			},
			{ResourceName: addr, ImportState: true, ImportStateId: a.Name + "/", ImportStateVerify: true},
			{
				// Other spellings of values the server takes: stored and kept in the state as
				// configured (no diff on the next plan); the parameter left out is reset, in place.
				Config: config(`enable_partitionwise_aggregate = "TRUE", work_mem = "65536kB"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("settings").AtMapKey("work_mem"), knownvalue.StringExact("65536kB")),
				},
				Check: dbChecks(catalog("enable_partitionwise_aggregate=TRUE | work_mem=65536kB")),
			},
			{
				// Set again out of band in other words that mean the same: no diff.
				PreConfig: func() {
					a.Exec(t, `ALTER DATABASE `+quoteIdent(a.Name)+` SET work_mem = '65536'`)
					a.Exec(t, `ALTER DATABASE `+quoteIdent(a.Name)+` SET enable_partitionwise_aggregate = yes`)
				},
				Config: config(`enable_partitionwise_aggregate = "TRUE", work_mem = "65536kB"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Changed and added out of band: the plan repairs both, in place.
				PreConfig: func() {
					a.Exec(t, `ALTER DATABASE `+quoteIdent(a.Name)+` SET work_mem = '4MB'`)
					a.Exec(t, `ALTER DATABASE `+quoteIdent(a.Name)+` SET random_page_cost = 1.1`)
				},
				Config: config(`enable_partitionwise_aggregate = "TRUE", work_mem = "65536kB"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(catalog("enable_partitionwise_aggregate=TRUE | work_mem=65536kB")),
			},
			{
				// Reset out of band: the plan sets them again.
				PreConfig: func() { a.Exec(t, `ALTER DATABASE `+quoteIdent(a.Name)+` RESET ALL`) },
				Config:    config(`enable_partitionwise_aggregate = "TRUE", work_mem = "65536kB"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				Check: dbChecks(catalog("enable_partitionwise_aggregate=TRUE | work_mem=65536kB")),
			},
		},
	})
}

// A role's settings in one database, with hostile names and a list value (search_path is
// parsed as a list, not stored as one quoted schema name); and the same role's settings for
// every database, a pair of its own.
func TestAccSettings_RoleInDatabase(t *testing.T) {
	a := newAccDatabase(t, nil)
	role := `api "reader"/` + accName(t)
	a.Exec(t, `CREATE ROLE `+quoteIdent(role))
	t.Cleanup(func() { a.Exec(t, `DROP ROLE IF EXISTS `+quoteIdent(role)) })
	config := a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "api" {
  database = %[1]q
  role     = %[2]q
  settings = {
    search_path                    = "\"$user\", public, \"odd 'schema\""
    enable_partitionwise_aggregate = "on"
  }
}

resource "pgshard_settings" "everywhere" {
  role     = %[2]q
  settings = { statement_timeout = "30s" }
}`, a.Name, role)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: dbChecks(a.ExpectQuery("<none>", settingsOf, a.Name, role),
			a.ExpectQuery("<none>", `SELECT coalesce((SELECT setconfig::text FROM pg_db_role_setting WHERE setdatabase = 0 AND setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)), '<none>')`, role)),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					a.ExpectQuery(`enable_partitionwise_aggregate=on | search_path="$user", public, "odd 'schema"`, settingsOf, a.Name, role),
					a.ExpectQuery(`{statement_timeout=30s}`, `SELECT setconfig::text FROM pg_db_role_setting WHERE setdatabase = 0 AND setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)`, role),
				),
			},
			{ResourceName: "pgshard_settings.api", ImportState: true, ImportStateVerify: true},
			{ResourceName: "pgshard_settings.everywhere", ImportState: true, ImportStateVerify: true},
		},
	})
}

func TestAccSettings_Errors(t *testing.T) {
	a := newAccDatabase(t, nil)
	a.Exec(t, `ALTER DATABASE `+quoteIdent(a.Name)+` SET random_page_cost = 1.1`)
	config := func(settings string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "x" {
  database = %q
  settings = { %s }
}`, a.Name, settings)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("random_page_cost=1.1", settingsOf, a.Name, "")),
		Steps: []resource.TestStep{
			{
				// Settings made by hand are imported, not overwritten.
				Config:      config(`work_mem = "8MB"`),
				ExpectError: expectError(`exist already \(1 parameters\).*import`),
			},
			{
				Config:      a.ProviderConfig() + `resource "pgshard_settings" "x" { settings = { work_mem = "8MB" } }`,
				ExpectError: expectError(`At least one of these attributes must be configured: \[database,role\]`),
			},
			{
				Config:      config(`"Work_Mem" = "8MB"`),
				ExpectError: expectError(`Invalid Parameter Name.*"Work_Mem" is not a configuration parameter name`),
			},
			{
				Config:      config(`role = "postgres"`),
				ExpectError: expectError(`"role" changes who a session is`),
			},
			{
				Config:      config(`transaction_read_only = "on"`),
				ExpectError: expectError(`set default_transaction_read_only instead`),
			},
		},
	})
}

// Values the server refuses fail the plan once it has connected (here, an update), naming
// the parameter and the value.
func TestAccSettings_RefusedValues(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := func(settings string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "x" {
  database = %q
  settings = { %s }
}`, a.Name, settings)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(`work_mem = "8MB"`)},
			{
				Config:      config(`work_mem = "8MB", enable_partitionwise_join = "maybe"`),
				PlanOnly:    true,
				ExpectError: expectError(`Invalid Setting.*settings\["enable_partitionwise_join"\] = "maybe".*requires a Boolean value`),
			},
			{
				Config:      config(`work_mem = "8MB", no_such_parameter = "1"`),
				PlanOnly:    true,
				ExpectError: expectError(`unrecognized configuration parameter "no_such_parameter"`),
			},
			{
				Config:      config(`work_mem = "8 parsecs"`),
				PlanOnly:    true,
				ExpectError: expectError(`invalid value for parameter "work_mem"`),
			},
			{Config: config(`work_mem = "8MB"`), PlanOnly: true},
		},
	})
}

// Every pair's ID splits back into its database and role, whatever their names hold.
func TestSettingsID_RoundTrip(t *testing.T) {
	for _, pair := range [][2]string{
		{"tweets", ""}, {"", "api"}, {"tweets", "api"}, {"a/b", ""}, {"", "a/b"}, {"a/", "/b"},
		{`"quoted"`, ""}, {"", `x"/"y`}, {"tweets", "role/"}, {"/", "/"},
	} {
		id := settingsID(postgres.Settings{Database: pair[0], Role: pair[1]})
		parts, err := splitSettingsID(id)
		if err != nil || len(parts) != 2 || parts[0] != pair[0] || parts[1] != pair[1] {
			t.Errorf("%q: split %q (%v), want %q", id, parts, err, pair)
		}
	}
	for _, id := range []string{"", "/", "tweets", `"unterminated/`} {
		if parts, err := splitSettingsID(id); err == nil {
			t.Errorf("%q split as %q, want an error", id, parts)
		}
	}
}
