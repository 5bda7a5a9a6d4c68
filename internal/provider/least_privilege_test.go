package provider

import (
	"context"
	"database/sql"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// leastPrivilegeGrant is one statement of the least-privilege grant list. The SQL names
// {app} (the provider's role), {database} (the base database), {shard_role} and
// {shard_database} (on each shard), so that the guide can print it with example names.
type leastPrivilegeGrant struct {
	name  string
	shard bool // run on each shard's database, else on the base database
	sql   string
}

// leastPrivilegeGrants is everything a non-superuser needs to run every resource but
// pgshard_extension, in a database where PUBLIC holds no privileges at all (the test
// revokes PostgreSQL's defaults first, so that nothing is granted by accident).
// templates/guides/least-privilege.md.tmpl prints each statement; a test keeps them equal.
var leastPrivilegeGrants = []leastPrivilegeGrant{
	{"connect", false, `GRANT CONNECT ON DATABASE {database} TO {app};`},
	{"schema", false, `GRANT USAGE, CREATE ON SCHEMA public TO {app};`},
	{"fdw", false, `GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO {app};`},
	{"dblink", false, `GRANT EXECUTE ON FUNCTION dblink(text, text), dblink_exec(text, text) TO {app};`},
	{"shard connect", true, `GRANT CONNECT ON DATABASE {shard_database} TO {shard_role};`},
	{"shard schema", true, `GRANT USAGE, CREATE ON SCHEMA public TO {shard_role};`},
}

// leastPrivilege is the tweets topology with a non-superuser provider role on the base
// and a non-superuser role on each shard, set up by a superuser.
type leastPrivilege struct {
	*shardedTweets
	app, appPassword     string // the provider's role on the base
	shard, shardPassword string // the mappings' role on each shard (same name on both)
	appDB                *sql.DB
}

// newLeastPrivilege creates the roles, installs the extensions as the superuser, takes
// every default privilege away from PUBLIC and grants leastPrivilegeGrants, except the
// one named omit.
func newLeastPrivilege(t *testing.T, omit string) *leastPrivilege {
	t.Helper()
	n := mathrand.IntN(1000000)
	lp := &leastPrivilege{
		shardedTweets: newShardedTweets(t),
		app:           fmt.Sprintf("pgshard_app_%06d", n),
		appPassword:   fmt.Sprintf(`app'=\pw%06d`, n),
		shard:         fmt.Sprintf("pgshard_shard_%06d", n),
		shardPassword: fmt.Sprintf(`sh'=\pw%06d`, n),
	}
	createRole := func(db *accDatabase, role, password string) {
		db.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, quoteIdent(role), quoteLiteral(password)))
		t.Cleanup(func() {
			// Roles are cluster-wide: drop what the role owns here (and its grants), then the role.
			for _, stmt := range []string{`DROP OWNED BY ` + quoteIdent(role), `DROP ROLE ` + quoteIdent(role)} {
				if _, err := db.DB.Exec(stmt); err != nil {
					t.Errorf("cleanup: %s: %v", stmt, err)
				}
			}
		})
	}
	createRole(lp.base, lp.app, lp.appPassword)
	for _, db := range []*accDatabase{lp.europe, lp.usa} {
		createRole(db, lp.shard, lp.shardPassword)
	}

	// Done by a superuser beforehand: the extensions, and no privileges left to PUBLIC.
	for _, stmt := range []string{
		`CREATE EXTENSION postgres_fdw`,
		`CREATE EXTENSION dblink`,
		`REVOKE ALL ON DATABASE ` + quoteIdent(lp.base.Name) + ` FROM PUBLIC`,
		`REVOKE ALL ON SCHEMA public FROM PUBLIC`,
		`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC`,
	} {
		lp.base.Exec(t, stmt)
	}
	for _, db := range []*accDatabase{lp.europe, lp.usa} {
		db.Exec(t, `REVOKE ALL ON DATABASE `+quoteIdent(db.Name)+` FROM PUBLIC`)
		db.Exec(t, `REVOKE ALL ON SCHEMA public FROM PUBLIC`)
	}

	known := false
	for _, g := range leastPrivilegeGrants {
		if g.name == omit {
			known = true
			continue
		}
		if !g.shard {
			lp.base.Exec(t, lp.render(g.sql, lp.base.Name))
			continue
		}
		for _, db := range []*accDatabase{lp.europe, lp.usa} {
			db.Exec(t, lp.render(g.sql, db.Name))
		}
	}
	if omit != "" && !known {
		t.Fatalf("no grant named %q", omit)
	}

	// The in-process provider opens new pools for every Terraform command and never closes
	// them; end this test's sessions (the provider's, and postgres_fdw's on the shards), so
	// that the package's tests do not run the shared clusters out of connections.
	t.Cleanup(func() {
		for _, db := range []*accDatabase{lp.base, lp.europe, lp.usa} {
			if _, err := db.DB.Exec(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
WHERE datname = current_database() AND usename IN ($1, $2) AND pid <> pg_backend_pid()`, lp.app, lp.shard); err != nil {
				t.Errorf("cleanup: ending the test's sessions in %s: %v", db.Name, err)
			}
		}
	})

	var err error
	if lp.appDB, err = lp.base.Cluster.OpenAs(lp.base.Name, lp.app, lp.appPassword); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lp.appDB.Close() })
	return lp
}

// render fills a grant's placeholders; database is the database it runs in.
func (lp *leastPrivilege) render(stmt, database string) string {
	return strings.NewReplacer("{app}", quoteIdent(lp.app), "{database}", quoteIdent(database),
		"{shard_role}", quoteIdent(lp.shard), "{shard_database}", quoteIdent(database)).Replace(stmt)
}

// config renders the whole tweets topology, but for the extensions, with the provider
// connected as the non-superuser role. europeValues is the Europe bound.
func (lp *leastPrivilege) config(europeValues string, extra ...string) string {
	eu, us := lp.europe, lp.usa
	return fmt.Sprintf(`
terraform {
  required_providers {
    pgshard = { source = "pgshard/pgshard" }
  }
}

provider "pgshard" {
  host            = %q
  port            = %d
  database        = %q
  username        = %q
  password        = %q
  sslmode         = "disable"
  connect_timeout = 5
}

locals {
  shards = {
    europe = { host = %q, port = %d, dbname = %q, values = %s }
    usa    = { host = %q, port = %d, dbname = %q, values = ["usa"] }
  }
  shard_role     = %q
  shard_password = %q
}

resource "pgshard_foreign_server" "europe" {
  name    = "europe"
  host    = local.shards.europe.host
  port    = local.shards.europe.port
  dbname  = local.shards.europe.dbname
  options = { fetch_size = "500" }
}

resource "pgshard_foreign_server" "usa" {
  name   = "usa"
  host   = local.shards.usa.host
  port   = local.shards.usa.port
  dbname = local.shards.usa.dbname
}

resource "pgshard_user_mapping" "europe" {
  server   = pgshard_foreign_server.europe.name
  user     = local.shard_role
  password = local.shard_password
}

resource "pgshard_user_mapping" "usa" {
  server   = pgshard_foreign_server.usa.name
  user     = local.shard_role
  password = local.shard_password
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "varchar", not_null = true },
    { name = "text", type = "text" },
    { name = "like_count", type = "int4", not_null = true, default = "0" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}

resource "pgshard_foreign_partition" "europe" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "europe_tweets"
  server              = pgshard_foreign_server.europe.name
  values_in           = local.shards.europe.values
  create_remote_table = true
  remote_identity     = { column = "id", start = 1000000000000, increment = 1 }
  options             = { fetch_size = "1000", async_capable = "true" }
  depends_on          = [pgshard_user_mapping.europe]
}

resource "pgshard_foreign_partition" "usa" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "us_tweets"
  server              = pgshard_foreign_server.usa.name
  values_in           = local.shards.usa.values
  create_remote_table = true
  remote_identity     = { column = "id", start = 2000000000000, increment = 1 }
  depends_on          = [pgshard_user_mapping.usa]
}

resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_default"
  is_default    = true
  force_destroy = true
}

data "pgshard_partitions" "tweets" {
  parent     = pgshard_partitioned_table.tweets.id
  depends_on = [pgshard_foreign_partition.europe, pgshard_foreign_partition.usa, pgshard_partition.default]
}
%s
`, lp.base.Cluster.Host, lp.base.Cluster.Port, lp.base.Name, lp.app, lp.appPassword,
		eu.Cluster.Host, eu.Cluster.Port, eu.Name, europeValues,
		us.Cluster.Host, us.Cluster.Port, us.Name,
		lp.shard, lp.shardPassword, strings.Join(extra, "\n"))
}

// tableConfig is a plain table on the Europe shard, managed with the provider connected
// there as the shard's role. (It is not part of config: terraform-plugin-testing serves one
// in-process provider instance to every provider block, so an aliased second provider
// would share the first one's connection settings.)
func (lp *leastPrivilege) tableConfig(primaryKey string) string {
	return fmt.Sprintf(`
terraform {
  required_providers {
    pgshard = { source = "pgshard/pgshard" }
  }
}

provider "pgshard" {
  host            = %q
  port            = %d
  database        = %q
  username        = %q
  password        = %q
  sslmode         = "disable"
  connect_timeout = 5
}

resource "pgshard_table" "profiles" {
  name = "profiles"
  columns = [
    { name = "id", type = "bigint", not_null = true },
    { name = "handle", type = "text", not_null = true },
    { name = "name", type = "text" },
  ]
  primary_key = %s
}
`, lp.europe.Cluster.Host, lp.europe.Cluster.Port, lp.europe.Name, lp.shard, lp.shardPassword, primaryKey)
}

// appExec runs a statement as the provider's non-superuser role.
func (lp *leastPrivilege) appExec(stmt string) func() error {
	return func() error {
		if _, err := lp.appDB.ExecContext(context.Background(), stmt); err != nil {
			return fmt.Errorf("as %s: %s: %w", lp.app, stmt, err)
		}
		return nil
	}
}

// appQuery asserts what a query run as the provider's role yields.
func (lp *leastPrivilege) appQuery(want, stmt string) func() error {
	return func() error {
		var got sql.NullString
		if err := lp.appDB.QueryRowContext(context.Background(), stmt).Scan(&got); err != nil {
			return fmt.Errorf("as %s: %s: %w", lp.app, stmt, err)
		}
		if got.String != want {
			return fmt.Errorf("as %s: %s\n  got:  %s\n  want: %s", lp.app, stmt, got.String, want)
		}
		return nil
	}
}

// Every resource but pgshard_extension runs as a non-superuser holding exactly
// leastPrivilegeGrants (PUBLIC holding nothing), with the extensions created beforehand
// by a superuser: create, rows through the parent to both shards, import, in-place
// updates (a bound change rewrites the shard's CHECK through dblink), a shard added with
// move_rows_from_default, and destroy; then pgshard_table as a shard's non-superuser role.
func TestAccProvider_LeastPrivilege(t *testing.T) {
	lp := newLeastPrivilege(t, "")
	ownedByApp := fmt.Sprintf(`SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relowner = %s::regrole AND relkind IN ('r', 'p', 'f')`, quoteLiteral(lp.app))
	const boundCheck = `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`
	ownedByShard := fmt.Sprintf(`SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relowner = %s::regrole AND relkind = 'r'`, quoteLiteral(lp.shard))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		// Destroy, as the non-superuser, leaves the base clean and the shards' rows in place.
		CheckDestroy: dbChecks(
			lp.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server`),
			lp.base.ExpectQuery("0", `SELECT count(*) FROM pg_user_mappings`),
			lp.base.ExpectQuery("<null>", ownedByApp),
			lp.europe.ExpectQuery("europe_tweets", ownedByShard),
			lp.europe.ExpectQuery("2", `SELECT count(*) FROM europe_tweets`),
			lp.usa.ExpectQuery("1", `SELECT count(*) FROM us_tweets`),
			lp.usa.ExpectQuery("1", `SELECT count(*) FROM asia_tweets`),
		),
		Steps: []resource.TestStep{
			{
				Config: lp.config(`["europe"]`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_user_mapping.europe", tfjsonpath.New("role"), knownvalue.StringExact(lp.app)),
					statecheck.ExpectKnownValue("pgshard_foreign_server.europe", tfjsonpath.New("owner"), knownvalue.StringExact(lp.app)),
					statecheck.ExpectKnownValue("data.pgshard_partitions.tweets", tfjsonpath.New("partitions"), knownvalue.ListSizeExact(3)),
				},
				Check: dbChecks(
					// The role is what the test says it is.
					lp.appQuery("false", `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`),
					// Everything on the base is the role's own; the shard tables are the shard role's.
					lp.base.ExpectQuery("europe_tweets,tweets,tweets_default,us_tweets", ownedByApp),
					lp.europe.ExpectQuery("europe_tweets", ownedByShard),
					lp.usa.ExpectQuery("us_tweets", ownedByShard),
					// Rows written through the parent by the role land on their shard, or in DEFAULT.
					lp.appExec(`INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('mars', 'beep')`),
					lp.europe.ExpectQuery("hallo", `SELECT string_agg(text, ',') FROM europe_tweets`),
					lp.usa.ExpectQuery("howdy", `SELECT string_agg(text, ',') FROM us_tweets`),
					lp.base.ExpectQuery("beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
					lp.appQuery("3", `SELECT count(*) FROM tweets`),
					// The shard table, created through dblink, has the bound CHECK and the identity.
					lp.europe.ExpectQuery(`CHECK (((location)::text = 'europe'::text))`, boundCheck),
					lp.europe.ExpectQuery("1000000000000", `SELECT start_value FROM pg_sequences WHERE sequencename LIKE 'europe_tweets%'`),
				),
			},
			// The role reads back what it made, user mapping options included.
			{ResourceName: "pgshard_user_mapping.europe", ImportState: true, ImportStateId: "europe/" + lp.app, ImportStateVerify: true},
			{ResourceName: "pgshard_foreign_server.europe", ImportState: true, ImportStateVerify: true},
			{ResourceName: "pgshard_partition.default", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"force_destroy"}},
			{
				// In place, as the role: a bound change (the shard's CHECK through dblink, then
				// detach and attach) and option changes on a server and a foreign table.
				Config: strings.NewReplacer(`fetch_size = "500"`, `fetch_size = "200"`, `async_capable = "true"`, `async_capable = "false"`).
					Replace(lp.config(`["europe", "eu"]`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgshard_foreign_server.europe", plancheck.ResourceActionUpdate),
					},
				},
				Check: dbChecks(
					lp.appExec(`INSERT INTO tweets (location, text) VALUES ('eu', 'kurz')`),
					lp.europe.ExpectQuery("hallo,kurz", `SELECT string_agg(text, ',' ORDER BY text) FROM europe_tweets`),
					lp.europe.ExpectQuery(`CHECK (((location)::text = ANY ((ARRAY['europe'::character varying, 'eu'::character varying])::text[])))`, boundCheck),
				),
			},
			{
				// A region added after its rows arrived in DEFAULT: a new shard table (on the
				// USA server), the rows moved there from DEFAULT, in one transaction, as the role.
				PreConfig: func() {
					if err := lp.appExec(`INSERT INTO tweets (location, text) VALUES ('asia', 'ni hao')`)(); err != nil {
						t.Fatal(err)
					}
				},
				Config: lp.config(`["europe", "eu"]`, `
resource "pgshard_foreign_partition" "asia" {
  parent                 = pgshard_partitioned_table.tweets.id
  name                   = "asia_tweets"
  server                 = pgshard_foreign_server.usa.name
  values_in              = ["asia"]
  create_remote_table    = true
  move_rows_from_default = true
  depends_on             = [pgshard_user_mapping.usa, pgshard_partition.default]
}`),
				Check: dbChecks(
					lp.usa.ExpectQuery("ni hao", `SELECT string_agg(text, ',') FROM asia_tweets`),
					lp.base.ExpectQuery("beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
					lp.appQuery("ni hao", `SELECT text FROM tweets WHERE location = 'asia'`),
				),
			},
		},
	})

	// pgshard_table on a shard, as the shard's role: create, an in-place change, import, destroy.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(lp.europe.ExpectQuery("europe_tweets", ownedByShard)),
		Steps: []resource.TestStep{
			{
				Config: lp.tableConfig(`["id"]`),
				Check:  dbChecks(lp.europe.ExpectQuery("europe_tweets,profiles", ownedByShard)),
			},
			{
				Config: lp.tableConfig(`["id", "handle"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_table.profiles", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(lp.europe.ExpectQuery("PRIMARY KEY (id, handle)",
					`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'profiles'::regclass AND contype = 'p'`)),
			},
			// Import reads a primary key's implied NOT NULL as not_null = false (see columnsToList).
			{ResourceName: "pgshard_table.profiles", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"force_destroy", "columns.0.not_null", "columns.1.not_null"}},
		},
	})
}

// Each grant is needed: without it, the apply fails with PostgreSQL's permission error.
func TestAccProvider_LeastPrivilegeEachGrantNeeded(t *testing.T) {
	want := map[string]string{
		"connect":       `permission denied for database`,
		"schema":        `permission denied for schema public.*lacks a privilege`,
		"fdw":           `permission denied for foreign-data wrapper postgres_fdw.*lacks a privilege`,
		"dblink":        `permission denied for function dblink.*lacks a privilege`,
		"shard connect": `could not establish connection.*permission denied for database`,
		"shard schema":  `permission denied for schema public`,
	}
	if len(want) != len(leastPrivilegeGrants) {
		t.Fatalf("every grant needs a case here: %d cases, %d grants", len(want), len(leastPrivilegeGrants))
	}
	for _, g := range leastPrivilegeGrants {
		t.Run("without "+g.name, func(t *testing.T) {
			lp := newLeastPrivilege(t, g.name)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: lp.config(`["europe"]`), ExpectError: expectError(want[g.name])}},
			})
		})
	}
}

// Every grant of the list is printed in the least-privilege guide, with its example names.
func TestLeastPrivilegeGuide_UpToDate(t *testing.T) {
	guide, err := os.ReadFile("../../templates/guides/least-privilege.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	names := strings.NewReplacer("{app}", "pgshard_app", "{database}", "tweets", "{shard_role}", "eu_app", "{shard_database}", "eutweets")
	for _, g := range leastPrivilegeGrants {
		stmt := names.Replace(g.sql)
		if !strings.Contains(string(guide), stmt) {
			t.Errorf("templates/guides/least-privilege.md.tmpl should print the grant %q", stmt)
		}
	}
	for _, test := range []string{"TestAccProvider_LeastPrivilege", "TestAccProvider_LeastPrivilegeEachGrantNeeded"} {
		if !regexp.MustCompile(`\b` + test + `\b`).Match(guide) {
			t.Errorf("the guide should name the test %s", test)
		}
	}
}
