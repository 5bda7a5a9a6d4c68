package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

const mappingOptionsQuery = `SELECT array_to_string(ARRAY(SELECT unnest(umoptions) ORDER BY 1), ' | ') FROM pg_user_mappings WHERE srvname = $1 AND usename = $2`

// A server and mapping pointed at a real shard cluster carry queries there, and a change
// of credentials in place changes who the shard sees.
func TestAccUserMapping_ReachesShard(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	const readerPassword = `r3ad=er's \pw`
	shard.Exec(t, fmt.Sprintf(`CREATE ROLE reader LOGIN PASSWORD %s`, quoteLiteral(readerPassword)))
	t.Cleanup(func() {
		shard.Exec(t, `DROP OWNED BY reader`)
		shard.Exec(t, `DROP ROLE reader`)
	})
	shard.Exec(t, `CREATE VIEW whoami AS SELECT current_user::text AS name`)
	shard.Exec(t, `GRANT SELECT ON whoami TO reader`)

	const addr = "pgshard_user_mapping.europe"
	config := func(user, password string) string {
		return base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = %q
  port   = %d
  dbname = %q
}

resource "pgshard_user_mapping" "europe" {
  server   = pgshard_foreign_server.europe.name
  user     = %q
  password = %q
}`, shard.Cluster.Host, shard.Cluster.Port, shard.Name, user, password)
	}
	// Who the shard sees, through a foreign table made with SQL (on a fresh fdw connection).
	whoami := func(want string) func() error {
		return func() error {
			if _, err := base.DB.Exec(`CREATE FOREIGN TABLE IF NOT EXISTS whoami (name text) SERVER europe OPTIONS (table_name 'whoami')`); err != nil {
				return err
			}
			if _, err := base.DB.Exec(`SELECT postgres_fdw_disconnect_all()`); err != nil {
				return err
			}
			return base.ExpectQuery(want, `SELECT name FROM whoami`)()
		}
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(base.ExpectQuery("<none>", `SELECT srvname FROM pg_user_mappings`)),
		Steps: []resource.TestStep{
			{
				Config: config("postgres", shard.Cluster.Password),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("europe/postgres")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("role"), knownvalue.StringExact("postgres")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("options"), knownvalue.Null()),
				},
				Check: dbChecks(
					base.ExpectQuery("password="+shard.Cluster.Password+" | user=postgres", mappingOptionsQuery, "europe", "postgres"),
					whoami("postgres"),
				),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     "europe/postgres",
				ImportStateVerify: true,
			},
			{
				// New credentials, in place.
				Config: config("reader", readerPassword),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					base.ExpectQuery("password="+readerPassword+" | user=reader", mappingOptionsQuery, "europe", "postgres"),
					whoami("reader"),
				),
			},
			{
				// Password changed out of band: the plan puts it back.
				PreConfig: func() {
					base.Exec(t, `ALTER USER MAPPING FOR postgres SERVER europe OPTIONS (SET password 'wrong')`)
				},
				Config: config("reader", readerPassword),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(whoami("reader")),
			},
			{
				// Dropped out of band: created again.
				PreConfig: func() { base.Exec(t, `DROP USER MAPPING FOR postgres SERVER europe`) },
				Config:    config("reader", readerPassword),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				Check: dbChecks(whoami("reader")),
			},
			{
				// The test's own foreign table would keep the server from being dropped.
				PreConfig: func() { base.Exec(t, `DROP FOREIGN TABLE whoami`) },
				Config:    config("reader", readerPassword),
				PlanOnly:  true,
			},
		},
	})
}

// Mappings for PUBLIC and for a role whose name has a dot and a quote; import by
// `server/role`.
func TestAccUserMapping_Roles(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	const role = `we.ird"role`
	a.Exec(t, `CREATE ROLE `+quoteIdent(role))
	t.Cleanup(func() { a.Exec(t, `DROP ROLE IF EXISTS `+quoteIdent(role)) })
	config := func(extra string) string {
		return a.ProviderConfig() + `
resource "pgshard_foreign_server" "s" {
  name = "s/1"
}

resource "pgshard_user_mapping" "public" {
  server = pgshard_foreign_server.s.name
  role   = "PUBLIC"
  user   = "guest"
  ` + extra + `
}

resource "pgshard_user_mapping" "weird" {
  server   = pgshard_foreign_server.s.name
  role     = "we.ird\"role"
  user     = "app"
  password = "p@ss'word"
  options  = { sslpassword = "x=y" }
}`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT srvname FROM pg_user_mappings`)),
		Steps: []resource.TestStep{
			{
				Config: config(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_user_mapping.public", tfjsonpath.New("id"), knownvalue.StringExact(`"s/1"/PUBLIC`)),
					statecheck.ExpectKnownValue("pgshard_user_mapping.weird", tfjsonpath.New("id"), knownvalue.StringExact(`"s/1"/we.ird"role`)),
				},
				Check: dbChecks(
					a.ExpectQuery("user=guest", mappingOptionsQuery, "s/1", "public"),
					a.ExpectQuery("password=p@ss'word | sslpassword=x=y | user=app", mappingOptionsQuery, "s/1", role),
				),
			},
			{ResourceName: "pgshard_user_mapping.public", ImportState: true, ImportStateVerify: true, ImportStateId: `"s/1"/PUBLIC`},
			{ResourceName: "pgshard_user_mapping.weird", ImportState: true, ImportStateVerify: true, ImportStateId: `"s/1"/we.ird"role`},
			{
				Config: config(`options = { sslpassword = "z" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgshard_user_mapping.public", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgshard_user_mapping.weird", plancheck.ResourceActionNoop),
					},
				},
				Check: dbChecks(a.ExpectQuery("sslpassword=z | user=guest", mappingOptionsQuery, "s/1", "public")),
			},
		},
	})
}
