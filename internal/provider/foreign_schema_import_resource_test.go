package provider

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

const schemaImportAddr = "pgshard_foreign_schema_import.remote"

// schemaImportFixture is a base database with server europe (and a user mapping) reaching
// a shard database whose schema "remote" holds users, orders and events with rows, and a
// local schema "imported".
type schemaImportFixture struct{ base, shard *accDatabase }

func newSchemaImportFixture(t *testing.T) *schemaImportFixture {
	f := &schemaImportFixture{
		base:  newAccDatabase(t, nil, "postgres_fdw", "dblink"),
		shard: newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 }),
	}
	f.base.Exec(t, fmt.Sprintf(`CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port %s, dbname %s)`,
		quoteLiteral(f.shard.Cluster.Host), quoteLiteral(strconv.Itoa(f.shard.Cluster.Port)), quoteLiteral(f.shard.Name)))
	f.base.Exec(t, fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER europe OPTIONS (user %s, password %s)`,
		quoteLiteral(f.shard.Cluster.User), quoteLiteral(f.shard.Cluster.Password)))
	f.base.Exec(t, `CREATE SCHEMA imported`)
	for _, stmt := range []string{
		`CREATE SCHEMA remote`,
		`CREATE TABLE remote.users (id int PRIMARY KEY, name text NOT NULL DEFAULT 'anon')`,
		`INSERT INTO remote.users VALUES (1, 'alice'), (2, 'bob')`,
		`CREATE TABLE remote.orders (id int, user_id int, total numeric(10,2))`,
		`INSERT INTO remote.orders VALUES (10, 1, 9.99)`,
		`CREATE TABLE remote.events (id bigint, payload jsonb)`,
		`INSERT INTO remote.events VALUES (100, '{"a": 1}')`,
	} {
		f.shard.Exec(t, stmt)
	}
	return f
}

func (f *schemaImportFixture) config(body string) string {
	return f.base.ProviderConfig() + `
resource "pgshard_foreign_schema_import" "remote" {
  server        = "europe"
  remote_schema = "remote"
  local_schema  = "imported"
  ` + body + `
}`
}

// remoteIntact says the shard kept its tables and rows.
func (f *schemaImportFixture) remoteIntact() resource.TestCheckFunc {
	return dbChecks(f.shard.ExpectQuery("2 1 1", `SELECT (SELECT count(*) FROM remote.users) || ' ' || (SELECT count(*) FROM remote.orders) || ' ' || (SELECT count(*) FROM remote.events)`))
}

const localForeignTables = `SELECT coalesce(string_agg(relname, ',' ORDER BY relname), '') FROM pg_class WHERE relnamespace = 'imported'::regnamespace AND relkind = 'f'`

func tablesAre(names ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(names))
	for i, n := range names {
		checks[i] = knownvalue.StringExact(n)
	}
	return knownvalue.ListExact(checks)
}

// oidOf records a relation's oid in *into, or checks it is still *into (same), or changed.
func (f *schemaImportFixture) oidOf(rel string, into *string, want string) func() error {
	return func() error {
		got, err := f.base.QueryString(`SELECT to_regclass($1)::oid::text`, rel)
		switch {
		case err != nil:
			return err
		case want == "record":
			*into = got
		case want == "same" && got != *into:
			return fmt.Errorf("%s was re-imported (oid %s, was %s)", rel, got, *into)
		case want == "changed" && got == *into:
			return fmt.Errorf("%s was not re-imported (oid still %s)", rel, got)
		}
		return nil
	}
}

func TestAccForeignSchemaImport_LimitTo(t *testing.T) {
	f := newSchemaImportFixture(t)
	var usersOID, ordersOID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		// Destroy drops the foreign tables only: the shard keeps its tables and rows, the base its schema.
		CheckDestroy: resource.ComposeTestCheckFunc(f.remoteIntact(), dbChecks(
			f.base.ExpectQuery("", localForeignTables),
			f.base.ExpectQuery("imported", `SELECT nspname FROM pg_namespace WHERE nspname = 'imported'`))),
		Steps: []resource.TestStep{
			{
				Config: f.config(`limit_to = ["users", "orders"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre("orders", "users"))},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("id"), knownvalue.StringExact("imported/europe/remote")),
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre("orders", "users")),
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("remote_drift"), knownvalue.StringExact("")),
				},
				Check: dbChecks(
					f.base.ExpectQuery("orders,users", localForeignTables),
					f.base.ExpectQuery("alice,bob", `SELECT string_agg(name, ',' ORDER BY id) FROM imported.users`),
					f.base.ExpectQuery("9.99", `SELECT total::text FROM imported.orders WHERE user_id = 1`),
					f.oidOf("imported.users", &usersOID, "record"),
					f.oidOf("imported.orders", &ordersOID, "record"),
				),
			},
			{
				// Growing limit_to imports only the new table, in place.
				Config: f.config(`limit_to = ["users", "orders", "events"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(schemaImportAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre("events", "orders", "users")),
					},
				},
				Check: dbChecks(
					f.base.ExpectQuery("events,orders,users", localForeignTables),
					f.base.ExpectQuery(`{"a": 1}`, `SELECT payload::text FROM imported.events`),
					f.oidOf("imported.users", &usersOID, "same"),
					f.oidOf("imported.orders", &ordersOID, "same"),
				),
			},
			{
				ResourceName:            schemaImportAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"limit_to", "except", "options"},
			},
			{
				// A remote table changes out of band: the refresh reports it.
				PreConfig: func() {
					f.shard.Exec(t, `ALTER TABLE remote.users ADD COLUMN email text`)
					f.shard.Exec(t, `UPDATE remote.users SET email = name || '@example.org'`)
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check: resource.TestCheckResourceAttr(schemaImportAddr, "remote_drift",
					`remote table "users" changed: column "email" (text) added`),
			},
			{
				// The apply re-imports that table only, and its new column reads.
				Config: f.config(`limit_to = ["users", "orders", "events"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(schemaImportAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("remote_drift"), knownvalue.StringExact("")),
					},
				},
				Check: dbChecks(
					f.base.ExpectQuery("alice@example.org", `SELECT email FROM imported.users WHERE id = 1`),
					f.oidOf("imported.users", &usersOID, "changed"),
					f.oidOf("imported.orders", &ordersOID, "same"),
				),
			},
			{
				// Shrinking drops only the foreign tables no longer listed; the shard keeps everything.
				Config: f.config(`limit_to = ["orders"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(schemaImportAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre("orders")),
				},
				Check: resource.ComposeTestCheckFunc(f.remoteIntact(), dbChecks(
					f.base.ExpectQuery("orders", localForeignTables),
					f.oidOf("imported.orders", &ordersOID, "same"),
				)),
			},
		},
	})
}

// A limit_to name the remote lacks fails the apply naming it, and nothing is imported.
func TestAccForeignSchemaImport_MissingRemoteTable(t *testing.T) {
	f := newSchemaImportFixture(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      f.config(`limit_to = ["users", "Orders", "nope"]`),
				ExpectError: expectError(`Remote Tables Not Found .* limit_to lists "Orders", "nope", which remote schema "remote" on server "europe" does not hold`),
			},
			{
				PreConfig: func() {
					if err := f.base.ExpectQuery("", localForeignTables)(); err != nil {
						t.Errorf("the refused import left foreign tables: %v", err)
					}
				},
				Config: f.config(`limit_to = ["users"]`),
				Check:  dbChecks(f.base.ExpectQuery("users", localForeignTables)),
			},
		},
	})
}

// except imports the rest, including remote tables that appear later; a remote table that
// goes takes its foreign table with it.
func TestAccForeignSchemaImport_Except(t *testing.T) {
	f := newSchemaImportFixture(t)
	config := f.config(`except = ["events"]`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(f.base.ExpectQuery("", localForeignTables), f.shard.ExpectQuery("1", `SELECT count(*) FROM remote.audit`)),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre("orders", "users")),
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("remote_drift"), knownvalue.StringExact("")),
				},
				Check: dbChecks(f.base.ExpectQuery("orders,users", localForeignTables)),
			},
			{
				PreConfig: func() {
					f.shard.Exec(t, `CREATE TABLE remote.audit (id int, what text)`)
					f.shard.Exec(t, `INSERT INTO remote.audit VALUES (1, 'created')`)
					f.shard.Exec(t, `DROP TABLE remote.orders`)
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check: resource.TestCheckResourceAttr(schemaImportAddr, "remote_drift",
					`remote table "audit" is not imported; the remote table of foreign table "orders" is gone`),
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(schemaImportAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre("audit", "users")),
				},
				Check: dbChecks(
					f.base.ExpectQuery("audit,users", localForeignTables),
					f.base.ExpectQuery("created", `SELECT what FROM imported.audit`),
				),
			},
		},
	})
}

// An IMPORT FOREIGN SCHEMA made by hand imports with an empty plan (a configuration without
// limit_to, except and options); new options then re-import every table.
func TestAccForeignSchemaImport_ImportHandMade(t *testing.T) {
	f := newSchemaImportFixture(t)
	f.base.Exec(t, `IMPORT FOREIGN SCHEMA remote FROM SERVER europe INTO imported`)
	var usersOID, eventsOID string
	config := f.config(``)
	withDefaults := f.config(`options = { import_default = "true" }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:             config,
				ResourceName:       schemaImportAddr,
				ImportState:        true,
				ImportStateId:      "imported/europe/remote",
				ImportStatePersist: true,
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					if len(s) != 1 || s[0].Attributes["tables.#"] != "3" || s[0].Attributes["remote_drift"] != "" {
						return fmt.Errorf("imported %v", s)
					}
					return nil
				},
			},
			{
				Config:   config,
				PlanOnly: true,
			},
			{
				PreConfig: func() {
					_ = f.oidOf("imported.users", &usersOID, "record")()
					_ = f.oidOf("imported.events", &eventsOID, "record")()
				},
				Config: withDefaults,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(schemaImportAddr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					f.base.ExpectQuery("'anon'::text", `SELECT column_default FROM information_schema.columns WHERE table_schema = 'imported' AND table_name = 'users' AND column_name = 'name'`),
					f.oidOf("imported.users", &usersOID, "changed"),
					f.oidOf("imported.events", &eventsOID, "changed"),
					f.base.ExpectQuery("events,orders,users", localForeignTables),
				),
			},
		},
	})
}

// Hostile schema and table names import verbatim, import back by ID, and nothing else
// runs, on the base or on the shard.
func TestAccForeignSchemaImport_HostileNames(t *testing.T) {
	f := newSchemaImportFixture(t)
	const (
		localSchema  = `lo"cal/x; DROP TABLE canary; --`
		remoteSchema = `re'mote"; DROP TABLE canary; --`
		table        = `we"ird; DROP TABLE x; --`
	)
	for _, db := range []*accDatabase{f.base, f.shard} {
		db.Exec(t, `CREATE TABLE canary (id int)`)
		db.Exec(t, `CREATE TABLE x (id int)`)
	}
	f.base.Exec(t, `CREATE SCHEMA `+quoteIdent(localSchema))
	f.shard.Exec(t, `CREATE SCHEMA `+quoteIdent(remoteSchema))
	f.shard.Exec(t, `CREATE TABLE `+quoteIdent(remoteSchema)+`.`+quoteIdent(table)+` (id int, "v'al""; --" text)`)
	f.shard.Exec(t, `INSERT INTO `+quoteIdent(remoteSchema)+`.`+quoteIdent(table)+` VALUES (1, 'verbatim')`)
	q := strconv.Quote
	config := f.base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_schema_import" "remote" {
  server        = "europe"
  remote_schema = %s
  local_schema  = %s
  limit_to      = [%s]
}`, q(remoteSchema), q(localSchema), q(table))
	canaries := dbChecks(
		f.base.ExpectQuery("0", `SELECT count(*) FROM canary, x`),
		f.shard.ExpectQuery("0", `SELECT count(*) FROM canary, x`),
	)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(canaries, dbChecks(
			f.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_table`),
			f.shard.ExpectQuery("verbatim", `SELECT "v'al""; --" FROM `+quoteIdent(remoteSchema)+`.`+quoteIdent(table)),
		)),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("id"), knownvalue.StringExact(`"lo""cal/x; DROP TABLE canary; --"/europe/`+remoteSchema)),
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("tables"), tablesAre(table)),
					statecheck.ExpectKnownValue(schemaImportAddr, tfjsonpath.New("remote_drift"), knownvalue.StringExact("")),
				},
				Check: resource.ComposeTestCheckFunc(canaries, dbChecks(
					f.base.ExpectQuery("verbatim", `SELECT "v'al""; --" FROM `+quoteIdent(localSchema)+`.`+quoteIdent(table)),
				)),
			},
			{
				ResourceName:            schemaImportAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"limit_to", "except", "options"},
			},
		},
	})
}

// Bad configurations fail the plan, before any connection, with a message that says what
// to change.
func TestAccForeignSchemaImport_InvalidConfig(t *testing.T) {
	provider := noConnectionProviderConfig(t)
	step := func(body, message string) resource.TestStep {
		return resource.TestStep{
			Config: provider + `
resource "pgshard_foreign_schema_import" "bad" {
  server        = "europe"
  remote_schema = "remote"
  ` + body + `
}`,
			PlanOnly:    true,
			ExpectError: expectError(message),
		}
	}
	unitTest(t, resource.TestCase{Steps: []resource.TestStep{
		step(`local_schema = "imported"
  limit_to = ["a"]
  except = ["b"]`, `Attribute "except" cannot be specified when "limit_to" is specified`),
		step(`local_schema = "imported"
  limit_to = []`, `limit_to set must contain at least 1 elements`),
		step(`local_schema = "imported"
  options = { import_foreign_keys = "true" }`, `"import_foreign_keys" is not a valid IMPORT FOREIGN SCHEMA option for postgres_fdw. Valid options are: import_collate, import_default, import_generated, import_not_null`),
		step(`local_schema = "imported"
  options = { import_default = "yes" }`, `The value "yes" of options\["import_default"\] is not "true" or "false". Write import_default = "true"`),
		step(`local_schema = ""`, `Invalid PostgreSQL Name`),
	}})
}

// Without dblink the create says to install it; a shard that cannot be reached during a
// refresh gives a warning and keeps the prior state, so the plan stays empty.
func TestAccForeignSchemaImport_NoShardAccess(t *testing.T) {
	f := newSchemaImportFixture(t)
	f.base.Exec(t, `DROP EXTENSION dblink`)
	config := f.config(`limit_to = ["users"]`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: expectError(`Foreign Schema Import Create Error .* the dblink extension is not installed in this database .* install it with pgshard_extension`),
			},
			{
				PreConfig: func() { f.base.Exec(t, `CREATE EXTENSION dblink`) },
				Config:    config,
				Check:     dbChecks(f.base.ExpectQuery("users", localForeignTables)),
			},
			{
				// Port 1 refuses connections: the refresh cannot ask the shard.
				PreConfig: func() { f.base.Exec(t, `ALTER SERVER europe OPTIONS (SET port '1')`) },
				Config:    config,
				PlanOnly:  true,
			},
			{
				PreConfig: func() {
					f.base.Exec(t, fmt.Sprintf(`ALTER SERVER europe OPTIONS (SET port '%d')`, f.shard.Cluster.Port))
				},
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}
