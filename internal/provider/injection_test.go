package provider

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// Names and values holding quotes, semicolons, comments, dollar quotes, backslashes,
// newlines and non-ASCII are created verbatim, and route rows, without running as SQL.
func TestAccProvider_InjectionVerbatim(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard2 })
	a.Exec(t, `CREATE TABLE canary (id int)`)
	shard.Exec(t, `CREATE TABLE canary (id int)`)
	const (
		schema  = `s"; DROP TABLE canary; --`
		table   = "tw$$eets'\nname"
		column  = `lo\cation"--`
		server  = `eu"rope; DROP TABLE canary`
		remote  = `shard "ta'ble" ✓`
		value   = `'); DROP TABLE canary; --`
		value2  = `$$ヨーロッパ\$$`
		appName = `a'b"c;--\n$$`
	)
	a.Exec(t, `CREATE SCHEMA `+quoteIdent(schema))
	q := strconv.Quote
	config := a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server" "s" {
  name    = %s
  host    = %q
  port    = %d
  dbname  = %q
  options = { application_name = %s }
}

resource "pgshard_user_mapping" "m" {
  server   = pgshard_foreign_server.s.name
  user     = "postgres"
  password = %q
}

resource "pgshard_partitioned_table" "t" {
  schema        = %s
  name          = %s
  columns       = [{ name = "id", type = "int" }, { name = %s, type = "text", default = %s }]
  partition_by  = { strategy = "list", key = [%s] }
  force_destroy = true
}

resource "pgshard_foreign_partition" "p" {
  parent              = pgshard_partitioned_table.t.id
  schema              = %s
  name                = %s
  server              = pgshard_foreign_server.s.name
  remote_table        = %s
  values_in           = [%s, %s]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.m]
}

resource "pgshard_partition" "d" {
  parent        = pgshard_partitioned_table.t.id
  schema        = %s
  name          = "default ✓"
  is_default    = true
  force_destroy = true
}
`, q(server), shard.Cluster.Host, shard.Cluster.Port, shard.Name, q(appName), shard.Cluster.Password,
		q(schema), q(table), q(column), q(`'x'';--'`), q(column),
		q(schema), q(table+"_p"), q(remote), q(value), q(value2), q(schema))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					a.ExpectQuery("1", `SELECT count(*) FROM pg_foreign_server WHERE srvname = $1 AND $2 = ANY(srvoptions)`, server, "application_name="+appName),
					a.ExpectQuery("p", `SELECT relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = $1 AND relname = $2`, schema, table),
					a.ExpectQuery(column, `SELECT attname FROM pg_attribute WHERE attrelid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = $1 AND relname = $2) AND attnum = 2`, schema, table),
					shard.ExpectQuery("1", `SELECT count(*) FROM pg_class WHERE relname = $1`, remote),
					func() error {
						_, err := a.DB.Exec(fmt.Sprintf(`INSERT INTO %s.%s (id, %s) VALUES (1, $1), (2, $2), (3, 'elsewhere'), (4, DEFAULT)`,
							quoteIdent(schema), quoteIdent(table), quoteIdent(column)), value, value2)
						return err
					},
					shard.ExpectQuery("2", fmt.Sprintf(`SELECT count(*) FROM %s`, quoteIdent(remote))),
					a.ExpectQuery("x';--", fmt.Sprintf(`SELECT %s FROM %s.%s WHERE id = 4`, quoteIdent(column), quoteIdent(schema), quoteIdent("default ✓"))),
					// The canaries are still there: nothing ran as SQL.
					a.ExpectQuery("0", `SELECT count(*) FROM canary`),
					shard.ExpectQuery("0", `SELECT count(*) FROM canary`),
				),
			},
			{
				ResourceName:            "pgshard_foreign_partition.p",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"create_remote_table"},
			},
			{ResourceName: "pgshard_user_mapping.m", ImportState: true, ImportStateVerify: true},
		},
	})
}
