package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const serverOptionsQuery = `SELECT array_to_string(ARRAY(SELECT unnest(srvoptions) ORDER BY 1), ' | ') || ' owner=' || pg_get_userbyid(srvowner) FROM pg_foreign_server WHERE srvname = $1`

func TestAccForeignServer_Lifecycle(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	a.Exec(t, `CREATE ROLE "shard.owner"`)
	t.Cleanup(func() { a.Exec(t, `DROP ROLE IF EXISTS "shard.owner"`) })
	const addr = "pgshard_foreign_server.europe"
	config := func(body string) string {
		return a.ProviderConfig() + `
resource "pgshard_foreign_server" "europe" {
  name = "europe"
` + body + `
}`
	}
	v1 := `
  host   = "eu.example.internal"
  port   = 5432
  dbname = "eutweets"
  options = {
    fetch_size       = "100"
    application_name = "a=b'c"
  }`
	v2 := `
  host   = "eu.example.internal"
  port   = 6432
  dbname = "eutweets"
  owner  = "shard.owner"
  options = {
    fetch_size          = "500"
    use_remote_estimate = "true"
  }`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT srvname FROM pg_foreign_server`)),
		Steps: []resource.TestStep{
			{
				Config: config(v1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("europe")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("foreign_data_wrapper"), knownvalue.StringExact("postgres_fdw")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("owner"), knownvalue.StringExact("postgres")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("port"), knownvalue.Int64Exact(5432)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("options"), knownvalue.MapExact(map[string]knownvalue.Check{
						"fetch_size":       knownvalue.StringExact("100"),
						"application_name": knownvalue.StringExact("a=b'c"),
					})),
				},
				Check: dbChecks(a.ExpectQuery(
					"application_name=a=b'c | dbname=eutweets | fetch_size=100 | host=eu.example.internal | port=5432 owner=postgres",
					serverOptionsQuery, "europe")),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// Options, port and owner change in place: SET, ADD, DROP and OWNER TO.
				Config: config(v2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(a.ExpectQuery(
					"dbname=eutweets | fetch_size=500 | host=eu.example.internal | port=6432 | use_remote_estimate=true owner=shard.owner",
					serverOptionsQuery, "europe")),
			},
			{
				// Changed out of band: repaired in place.
				PreConfig: func() {
					a.Exec(t, `ALTER SERVER europe OPTIONS (SET fetch_size '1', DROP use_remote_estimate, ADD keep_connections 'off')`)
				},
				Config: config(v2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(a.ExpectQuery(
					"dbname=eutweets | fetch_size=500 | host=eu.example.internal | port=6432 | use_remote_estimate=true owner=shard.owner",
					serverOptionsQuery, "europe")),
			},
			{
				// Dropped out of band: created again.
				PreConfig: func() { a.Exec(t, `DROP SERVER europe`) },
				Config:    config(v2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				Check: dbChecks(a.ExpectQuery(
					"dbname=eutweets | fetch_size=500 | host=eu.example.internal | port=6432 | use_remote_estimate=true owner=shard.owner",
					serverOptionsQuery, "europe")),
			},
			{
				// Removing every option and attribute empties the server in place.
				Config: config(``),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(a.ExpectQuery(" owner=shard.owner", serverOptionsQuery, "europe")),
			},
			{
				// An empty options map reads back as empty, not null: the plan after apply
				// (checked by the test framework) is empty.
				Config: config(`options = {}`),
				Check:  dbChecks(a.ExpectQuery(" owner=shard.owner", serverOptionsQuery, "europe")),
			},
			{
				Config:   config(`options = {}`),
				PlanOnly: true,
			},
		},
	})
}

// A server created by hand with plain SQL imports with an empty plan.
func TestAccForeignServer_ImportHandMade(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	a.Exec(t, `CREATE SERVER "usa" FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'us.example.internal', port '5432', dbname 'ustweets', fetch_size '1000', options '-c search_path=a,b')`)
	config := a.ProviderConfig() + `
resource "pgshard_foreign_server" "usa" {
  name   = "usa"
  host   = "us.example.internal"
  port   = 5432
  dbname = "ustweets"
  options = {
    fetch_size = "1000"
    options    = "-c search_path=a,b"
  }
}`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:          config,
				ResourceName:    "pgshard_foreign_server.usa",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "usa",
			},
			{
				Config:             config,
				ResourceName:       "pgshard_foreign_server.usa",
				ImportState:        true,
				ImportStateId:      "usa",
				ImportStatePersist: true,
			},
			{
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}
