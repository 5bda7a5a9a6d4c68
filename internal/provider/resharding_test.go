package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// Adding a region whose rows already sit in DEFAULT: without move_rows_from_default the
// plan fails naming the row count and the flag, before anything is created; with it, the
// rows move to the new shard in one transaction, and every row stays readable through the
// parent exactly once.
func TestAccForeignPartition_AddRegionMovesDefaultRows(t *testing.T) {
	s := newShardedTweets(t)
	asia := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	asiaRegion := func(move bool) string {
		return fmt.Sprintf(`
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
  parent                 = pgshard_partitioned_table.tweets.id
  name                   = "asia_tweets"
  server                 = pgshard_foreign_server.asia.name
  values_in              = ["asia", "japan"]
  create_remote_table    = true
  move_rows_from_default = %t
  depends_on             = [pgshard_user_mapping.asia, pgshard_extension.dblink, pgshard_partition.default]
}
`, asia.Cluster.Host, asia.Cluster.Port, asia.Name, asia.Cluster.Password, move)
	}
	const everyRow = `SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' ids, ' || string_agg(text, ',' ORDER BY id) FROM tweets`
	const want = "7 rows, 7 ids, hallo,howdy,a1,a2,j1,mars,e2"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: s.config(`["europe"]`, "force_destroy = true"),
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES
					  ('europe', 'hallo'), ('usa', 'howdy'), ('asia', 'a1'), ('asia', 'a2'), ('japan', 'j1'), ('mars', 'beep')`)
					if err == nil {
						_, err = s.base.DB.Exec(`DELETE FROM tweets WHERE text = 'beep'`)
					}
					if err == nil {
						_, err = s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('mars', 'mars'), ('europe', 'e2')`)
					}
					return err
				},
					s.base.ExpectQuery("4", `SELECT count(*) FROM ONLY tweets_default`),
				),
			},
			{
				Config:      s.config(`["europe"]`, "force_destroy = true") + asiaRegion(false),
				ExpectError: expectError(`3 rows in the DEFAULT partition public.tweets_default match its bound .*Set move_rows_from_default = true`),
			},
			{
				// Refused at plan, so nothing changed: the rows are still in DEFAULT, no partition was
				// left behind, and without the region the plan is empty (no server, no mapping in state).
				PreConfig: func() {
					if err := dbChecks(
						s.base.ExpectQuery("4", `SELECT count(*) FROM ONLY tweets_default`),
						s.base.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname = 'asia_tweets'`),
						s.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server WHERE srvname = 'asia'`),
					)(nil); err != nil {
						t.Error(err)
					}
				},
				Config:   s.config(`["europe"]`, "force_destroy = true"),
				PlanOnly: true,
			},
			{
				Config: s.config(`["europe"]`, "force_destroy = true") + asiaRegion(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_foreign_partition.asia", plancheck.ResourceActionCreate)},
				},
				Check: dbChecks(
					s.base.ExpectQuery(want, everyRow),
					s.base.ExpectQuery("1", `SELECT count(*) FROM ONLY tweets_default`),
					asia.ExpectQuery("a1,a2,j1", `SELECT string_agg(text, ',' ORDER BY id) FROM asia_tweets`),
					s.base.ExpectQuery("a1,a2,j1", `SELECT string_agg(text, ',' ORDER BY id) FROM tweets WHERE location IN ('asia', 'japan')`),
					// New asia rows go straight to the shard.
					func() error {
						_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('asia', 'a3')`)
						return err
					},
					asia.ExpectQuery("4", `SELECT count(*) FROM asia_tweets`),
				),
			},
		},
	})
}
