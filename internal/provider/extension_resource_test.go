package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccExtension_Lifecycle(t *testing.T) {
	a := newAccDatabase(t, nil)
	a.Exec(t, `CREATE SCHEMA "fdw schema"`)
	const addr = "pgshard_extension.fdw"
	config := func(attrs string) string {
		return a.ProviderConfig() + `
resource "pgshard_extension" "fdw" {
  name = "postgres_fdw"
  ` + attrs + `
}`
	}
	extension := `SELECT n.nspname || ' ' || e.extversion FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'postgres_fdw'`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", extension)),
		Steps: []resource.TestStep{
			{
				Config: config(`version = "1.0"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("postgres_fdw")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("schema"), knownvalue.StringExact("public")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.StringExact("1.0")),
				},
				Check: dbChecks(a.ExpectQuery("public 1.0", extension)),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     "postgres_fdw",
				ImportStateVerify: true,
			},
			{
				// Version and schema change in place.
				Config: config(`
  version = "1.1"
  schema  = "fdw schema"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(a.ExpectQuery("fdw schema 1.1", extension)),
			},
			{
				// Moved back out of band: the plan repairs it in place.
				PreConfig: func() { a.Exec(t, `ALTER EXTENSION postgres_fdw SET SCHEMA public`) },
				Config: config(`
  version = "1.1"
  schema  = "fdw schema"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(a.ExpectQuery("fdw schema 1.1", extension)),
			},
			{
				// Dropped out of band: the plan creates it again.
				PreConfig: func() { a.Exec(t, `DROP EXTENSION postgres_fdw`) },
				Config: config(`
  version = "1.1"
  schema  = "fdw schema"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				Check: dbChecks(a.ExpectQuery("fdw schema 1.1", extension)),
			},
			{
				// Omitting version and schema keeps what is installed: no diff.
				Config: config(``),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccExtension_ImportHandMade(t *testing.T) {
	a := newAccDatabase(t, nil, "dblink")
	config := a.ProviderConfig() + `
resource "pgshard_extension" "dblink" {
  name = "dblink"
}`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:          config,
				ResourceName:    "pgshard_extension.dblink",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "dblink",
			},
		},
	})
}

func TestAccExtension_Errors(t *testing.T) {
	a := newAccDatabase(t, nil, "dblink")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Creating an extension that exists says how to adopt it.
				Config:      a.ProviderConfig() + `resource "pgshard_extension" "x" { name = "dblink" }`,
				ExpectError: expectError(`Extension Create Error.*already exists.*terraform import`),
			},
			{
				Config:      a.ProviderConfig() + `resource "pgshard_extension" "x" { name = "no_such_extension" }`,
				ExpectError: expectError(`Could not create extension "no_such_extension"`),
			},
		},
	})
}
