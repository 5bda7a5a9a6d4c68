package provider

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// accRole creates a role for this test run (roles are cluster-wide, so the name is unique
// per run unless given) and drops it at cleanup, after DROP OWNED BY has revoked what it
// holds in the test's database (and, with CASCADE, what it passed on).
func accRole(t *testing.T, a *accDatabase, name string) string {
	t.Helper()
	if name == "" {
		name = accName(t)
	}
	a.Exec(t, `CREATE ROLE `+quoteIdent(name))
	t.Cleanup(func() {
		a.Exec(t, `DROP OWNED BY `+quoteIdent(name))
		a.Exec(t, `DROP ROLE `+quoteIdent(name))
	})
	return name
}

// asRole runs statements as role in one transaction, committed.
func (a *accDatabase) asRole(role string, stmts ...string) error {
	return a.asRoleTx(role, true, stmts...)
}

func (a *accDatabase) asRoleTx(role string, commit bool, stmts ...string) error {
	tx, err := a.DB.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, sql.ErrTxDone
	for _, stmt := range append([]string{`SET LOCAL ROLE ` + quoteIdent(role)}, stmts...) {
		if _, err := tx.Exec(stmt); err != nil {
			return fmt.Errorf("as %s: %s: %w", role, stmt, err)
		}
	}
	if !commit {
		return nil
	}
	return tx.Commit()
}

// ownMapping checks that role may create a user mapping for itself on server, which takes
// USAGE on it. The mapping is rolled back, so that it keeps nothing from being dropped.
func (a *accDatabase) ownMapping(role, server string) func() error {
	return func() error {
		return a.asRoleTx(role, false, fmt.Sprintf(`CREATE USER MAPPING FOR %s SERVER %s OPTIONS (user 'x', password 'y')`,
			quoteIdent(role), quoteIdent(server)))
	}
}

// hasServerPrivilege checks has_server_privilege(role, server, privilege); role "public"
// is PUBLIC. Names are bind parameters: the function looks them up verbatim.
func (a *accDatabase) hasServerPrivilege(want bool, role, server, privilege string) func() error {
	return a.ExpectQuery(strconv.FormatBool(want), `SELECT has_server_privilege($1::name, $2::text, $3)`, role, server, privilege)
}

// Create for a role, which can then map itself on the server; import; the grant option on
// and off in place; USAGE revoked, and the server re-created, out of band: both granted
// again; destroy revokes.
func TestAccForeignServerUsage_Lifecycle(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	a.Exec(t, `CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw`)
	app := accRole(t, a, "")
	const addr = "pgshard_foreign_server_usage.app"
	config := func(extra string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server_usage" "app" {
  server = "europe"
  role   = %q
  %s
}`, app, extra)
	}
	usage := func(want bool) func() error { return a.hasServerPrivilege(want, app, "europe", "USAGE") }
	grantOption := func(want bool) func() error {
		return a.hasServerPrivilege(want, app, "europe", "USAGE WITH GRANT OPTION")
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}
	create := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: dbChecks(
			usage(false),
			failsWith(a.ownMapping(app, "europe"), "permission denied for foreign server europe"),
			a.ExpectQuery("1", `SELECT count(*) FROM pg_foreign_server WHERE srvname = 'europe'`),
		),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if err := failsWith(a.ownMapping(app, "europe"), "permission denied for foreign server europe")(); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("europe/"+app)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("with_grant_option"), knownvalue.Bool(false)),
				},
				Check: dbChecks(usage(true), grantOption(false), a.ownMapping(app, "europe")),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				Config:           config("with_grant_option = true"),
				ConfigPlanChecks: update,
				Check:            dbChecks(usage(true), grantOption(true)),
			},
			{
				Config:           config("with_grant_option = false"),
				ConfigPlanChecks: update,
				Check:            dbChecks(usage(true), grantOption(false)),
			},
			{
				// Revoked out of band: the plan grants it again.
				PreConfig:        func() { a.Exec(t, `REVOKE USAGE ON FOREIGN SERVER europe FROM `+quoteIdent(app)) },
				Config:           config(""),
				ConfigPlanChecks: create,
				Check:            dbChecks(usage(true), grantOption(false)),
			},
			{
				// The grant option added out of band: taken away in place.
				PreConfig:        func() { a.Exec(t, `GRANT USAGE ON FOREIGN SERVER europe TO `+quoteIdent(app)+` WITH GRANT OPTION`) },
				Config:           config(""),
				ConfigPlanChecks: update,
				Check:            dbChecks(usage(true), grantOption(false)),
			},
			{
				// The server dropped and made again out of band: a new server, no grant.
				PreConfig: func() {
					a.Exec(t, `DROP SERVER europe`)
					a.Exec(t, `CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw`)
				},
				Config:           config(""),
				ConfigPlanChecks: create,
				Check:            dbChecks(usage(true), a.ownMapping(app, "europe")),
			},
		},
	})
}

// PUBLIC, and grants made before Terraform: imported (`europe/PUBLIC`, `europe/role`), then an
// empty plan; a role without a grant of its own uses the server through PUBLIC.
func TestAccForeignServerUsage_PublicAndImport(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	a.Exec(t, `CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw`)
	reporting := accRole(t, a, "")
	other := accRole(t, a, "")
	a.Exec(t, `GRANT USAGE ON FOREIGN SERVER europe TO PUBLIC`)
	a.Exec(t, `GRANT USAGE ON FOREIGN SERVER europe TO `+quoteIdent(reporting)+` WITH GRANT OPTION`)
	config := a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server_usage" "public" {
  server = "europe"
  role   = "PUBLIC"
}

resource "pgshard_foreign_server_usage" "reporting" {
  server            = "europe"
  role              = %q
  with_grant_option = true
}`, reporting)
	const publicGrants = `SELECT count(*) FROM pg_foreign_server s, aclexplode(s.srvacl) a WHERE s.srvname = 'europe' AND a.grantee = 0`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: dbChecks(
			a.ExpectQuery("0", publicGrants),
			a.hasServerPrivilege(false, reporting, "europe", "USAGE"),
			a.hasServerPrivilege(false, other, "europe", "USAGE"),
		),
		Steps: []resource.TestStep{
			{
				Config:          config,
				ResourceName:    "pgshard_foreign_server_usage.public",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "europe/PUBLIC",
			},
			{Config: config, ResourceName: "pgshard_foreign_server_usage.public", ImportState: true, ImportStateId: "europe/public", ImportStatePersist: true},
			{Config: config, ResourceName: "pgshard_foreign_server_usage.reporting", ImportState: true, ImportStateId: "europe/" + reporting, ImportStatePersist: true},
			{Config: config, PlanOnly: true},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_foreign_server_usage.public", tfjsonpath.New("id"), knownvalue.StringExact("europe/PUBLIC")),
					statecheck.ExpectKnownValue("pgshard_foreign_server_usage.reporting", tfjsonpath.New("with_grant_option"), knownvalue.Bool(true)),
				},
				Check: dbChecks(
					a.ExpectQuery("1", publicGrants),
					a.hasServerPrivilege(true, "public", "europe", "USAGE"),
					a.hasServerPrivilege(true, reporting, "europe", "USAGE WITH GRANT OPTION"),
					a.ownMapping(other, "europe"),
				),
			},
			{ResourceName: "pgshard_foreign_server_usage.public", ImportState: true, ImportStateVerify: true},
		},
	})
}

// Server and role names holding quotes, semicolons, comments and `/` are granted verbatim
// (and round-trip through the id), and nothing runs as SQL.
func TestAccForeignServerUsage_HostileNames(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	a.Exec(t, `CREATE TABLE canary (id int)`)
	const server = `eu/"rope"; DROP TABLE canary; --`
	role := accRole(t, a, fmt.Sprintf(`s"; DROP TABLE canary; --/%06d`, rand.IntN(1000000)))
	const addr = "pgshard_foreign_server_usage.hostile"
	config := a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server" "s" {
  name = %s
}

resource "pgshard_foreign_server_usage" "hostile" {
  server            = pgshard_foreign_server.s.name
  role              = %s
  with_grant_option = true
}`, strconv.Quote(server), strconv.Quote(role))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: dbChecks(
			a.ExpectQuery("0", `SELECT count(*) FROM canary`),
			a.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server`),
			a.ExpectQuery("1", `SELECT count(*) FROM pg_roles WHERE rolname = $1`, role),
		),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(postgres.JoinID('/', server, role))),
				},
				Check: dbChecks(
					a.hasServerPrivilege(true, role, server, "USAGE WITH GRANT OPTION"),
					a.ownMapping(role, server),
					a.ExpectQuery(server, `SELECT srvname FROM pg_foreign_server`),
					a.ExpectQuery("0", `SELECT count(*) FROM canary`),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
		},
	})
}

// A role that passed USAGE on keeps it: turning its grant option off, and destroy, fail
// naming the grants it made, and change nothing; once those are revoked, both go through.
func TestAccForeignServerUsage_DependentGrants(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	a.Exec(t, `CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw`)
	bob := accRole(t, a, "") // made first, dropped last: the app's DROP OWNED revokes what it passed on
	app := accRole(t, a, "")
	config := func(option bool) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server_usage" "app" {
  server            = "europe"
  role              = %q
  with_grant_option = %t
}`, app, option)
	}
	refused := func(action string) string {
		return fmt.Sprintf(`Could not %s USAGE on foreign server "europe" for role %q in database %q: dependent privileges exist\. `+
			`.*never drops dependent objects with CASCADE\. Detail: role %q passed USAGE on foreign server "europe" on to %q`,
			action, app, a.Name, app, bob)
	}
	unchanged := func() {
		if err := dbChecks(
			a.hasServerPrivilege(true, app, "europe", "USAGE WITH GRANT OPTION"),
			a.hasServerPrivilege(true, bob, "europe", "USAGE"),
		)(nil); err != nil {
			t.Fatal(err)
		}
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.hasServerPrivilege(false, app, "europe", "USAGE")),
		Steps: []resource.TestStep{
			{
				Config: config(true),
				Check:  dbChecks(a.hasServerPrivilege(true, app, "europe", "USAGE WITH GRANT OPTION")),
			},
			{
				PreConfig: func() {
					if err := a.asRole(app, `GRANT USAGE ON FOREIGN SERVER europe TO `+quoteIdent(bob)); err != nil {
						t.Fatal(err)
					}
				},
				Config:      config(false),
				ExpectError: expectError(refused("update")),
			},
			{
				PreConfig:   unchanged,
				Config:      a.ProviderConfig(), // destroys the grant
				ExpectError: expectError(refused("delete")),
			},
			{
				PreConfig: func() {
					unchanged()
					if err := a.asRole(app, `REVOKE USAGE ON FOREIGN SERVER europe FROM `+quoteIdent(bob)); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(false),
				Check: dbChecks(
					a.hasServerPrivilege(true, app, "europe", "USAGE"),
					a.hasServerPrivilege(false, app, "europe", "USAGE WITH GRANT OPTION"),
					a.hasServerPrivilege(false, bob, "europe", "USAGE"),
				),
			},
		},
	})
}

// Bad configurations fail the plan, before any connection.
func TestForeignServerUsage_InvalidConfig(t *testing.T) {
	provider := noConnectionProviderConfig(t)
	step := func(body, message string) resource.TestStep {
		return resource.TestStep{
			Config: provider + `
resource "pgshard_foreign_server_usage" "bad" {
  ` + body + `
}`,
			PlanOnly:    true,
			ExpectError: expectError(message),
		}
	}
	unitTest(t, resource.TestCase{Steps: []resource.TestStep{
		step(`server = "europe"
  role = "PUBLIC"
  with_grant_option = true`, `PostgreSQL grants options only to roles, not to PUBLIC`),
		step(`server = "europe"
  role = "public"`, `Invalid Role`),
		step(`server = "europe"
  role = ""`, `Invalid PostgreSQL Name`),
		step(`server = ""
  role = "app"`, `Invalid PostgreSQL Name`),
	}})
}

// failsWith turns a check into one that passes when it fails with an error containing want.
func failsWith(check func() error, want string) func() error {
	return func() error {
		err := check()
		if err == nil || !strings.Contains(err.Error(), want) {
			return fmt.Errorf("want an error containing %q, got %v", want, err)
		}
		return nil
	}
}
