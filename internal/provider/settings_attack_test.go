package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// settingsAttackConfig is one pgshard_settings named x for the database and role given
// (either "" for absent) holding the settings given.
func settingsAttackConfig(a *accDatabase, database, role, settings string) string {
	attrs := ""
	if database != "" {
		attrs += fmt.Sprintf("  database = %q\n", database)
	}
	if role != "" {
		attrs += fmt.Sprintf("  role     = %q\n", role)
	}
	return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "x" {
%s  settings = { %s }
}`, attrs, settings)
}

// Two resources for the same pair in one apply: Terraform creates them concurrently, and
// exactly one must win; the other must refuse ("exist already"), never merge into the row
// the first owns. Before the pair's advisory lock, about one run in three both creates read
// "no settings" before either committed: "duplicate key value violates unique constraint
// pg_db_role_setting_databaseid_rol_index", or both rows merged and Terraform reported
// "Provider produced inconsistent result after apply".
func TestAccSettingsAttack_SamePairTwice(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "one" {
  database = %[1]q
  settings = { work_mem = "8MB" }
}

resource "pgshard_settings" "two" {
  database = %[1]q
  settings = { random_page_cost = "1.1" }
}`, a.Name)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: expectError(`exist already`),
		}},
	})
}

// freshProviderFactories start a new provider, with pools of its own, each time Terraform
// starts the plugin, as a real terraform run does (testAccProtoV6ProviderFactories shares
// one provider, and its open sessions, across every step and test): sessions opened after
// a database's settings changed get them.
var freshProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"pgshard": func() (tfprotov6.ProviderServer, error) { return providerserver.NewProtocol6(New("test")())(), nil },
}

// Values the server takes but prints differently are no diff after apply; the catalog
// holds them as written (a list as the server parsed it). Quotes, commas and newlines
// inside a value, units, a custom placeholder parameter and list parameters.
func TestAccSettingsAttack_Spellings(t *testing.T) {
	a := newAccDatabase(t, nil)
	settings := `
    enable_partitionwise_join = "TRUE"
    random_page_cost          = "0.10"
    work_mem                  = "1024MB"
    maintenance_work_mem      = "1e4"
    statement_timeout         = "1min"
    "myapp.flag"              = "it's, a \"value\"\nwith a newline"
    search_path               = "\"$user\",public , \"Odd, Schema\""
    temp_tablespaces          = ""
    application_name          = "x y"
  `
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", settingsOf, a.Name, "")),
		Steps: []resource.TestStep{
			{
				Config: settingsAttackConfig(a, a.Name, "", settings),
				Check: dbChecks(a.ExpectQuery(`application_name=x y | enable_partitionwise_join=TRUE | maintenance_work_mem=1e4 | myapp.flag=it's, a "value"`+"\n"+`with a newline | random_page_cost=0.10 | search_path="$user",public , "Odd, Schema" | statement_timeout=1min | temp_tablespaces= | work_mem=1024MB`,
					settingsOf, a.Name, "")),
			},
			{Config: settingsAttackConfig(a, a.Name, "", settings), PlanOnly: true},
			{ResourceName: "pgshard_settings.x", ImportState: true, ImportStateId: a.Name + "/", ImportStateVerify: false},
		},
	})
}

// Timeout parameters as managed values: neither the write nor the plan's check of the
// values sets them in the provider's own session, so neither can be cut short by them.
func TestAccSettingsAttack_TimeoutsAsValues(t *testing.T) {
	a := newAccDatabase(t, nil)
	role := accName(t)
	a.Exec(t, `CREATE ROLE `+quoteIdent(role))
	t.Cleanup(func() { a.Exec(t, `DROP ROLE IF EXISTS `+quoteIdent(role)) })
	settings := `statement_timeout = "1ms", lock_timeout = "1ms", idle_in_transaction_session_timeout = "1ms", idle_session_timeout = "1ms"`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", settingsOf, a.Name, role)),
		Steps: []resource.TestStep{
			{
				Config: settingsAttackConfig(a, a.Name, role, settings),
				Check: dbChecks(a.ExpectQuery(`idle_in_transaction_session_timeout=1ms | idle_session_timeout=1ms | lock_timeout=1ms | statement_timeout=1ms`,
					settingsOf, a.Name, role)),
			},
			{Config: settingsAttackConfig(a, a.Name, role, settings), PlanOnly: true},
		},
	})
}

// The role dropped while managed: the next plan creates the settings again, and the apply
// fails naming the role, with no panic; the role recreated, it applies.
func TestAccSettingsAttack_RoleDropped(t *testing.T) {
	a := newAccDatabase(t, nil)
	role := accName(t)
	a.Exec(t, `CREATE ROLE `+quoteIdent(role))
	t.Cleanup(func() { a.Exec(t, `DROP ROLE IF EXISTS `+quoteIdent(role)) })
	config := settingsAttackConfig(a, a.Name, role, `work_mem = "8MB"`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: dbChecks(a.ExpectQuery("work_mem=8MB", settingsOf, a.Name, role))},
			{
				PreConfig: func() { a.Exec(t, `DROP ROLE `+quoteIdent(role)) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_settings.x", plancheck.ResourceActionCreate)},
				},
				ExpectError: expectError(`role "` + role + `" does not exist`),
			},
			{
				PreConfig: func() { a.Exec(t, `CREATE ROLE `+quoteIdent(role)) },
				Config:    config,
				Check:     dbChecks(a.ExpectQuery("work_mem=8MB", settingsOf, a.Name, role)),
			},
		},
	})
}

// The database dropped while its settings are managed (the provider connects to another).
func TestAccSettingsAttack_DatabaseDropped(t *testing.T) {
	a := newAccDatabase(t, nil)
	other := accName(t)
	a.Exec(t, `CREATE DATABASE `+quoteIdent(other))
	t.Cleanup(func() { a.Exec(t, `DROP DATABASE IF EXISTS `+quoteIdent(other)) })
	config := settingsAttackConfig(a, other, "", `work_mem = "8MB"`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: dbChecks(a.ExpectQuery("work_mem=8MB", settingsOf, other, ""))},
			{
				PreConfig: func() { a.Exec(t, `DROP DATABASE `+quoteIdent(other)) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_settings.x", plancheck.ResourceActionCreate)},
				},
				ExpectError: expectError(`database "` + other + `" does not exist`),
			},
			{
				PreConfig: func() { a.Exec(t, `CREATE DATABASE `+quoteIdent(other)) },
				Config:    config,
				Check:     dbChecks(a.ExpectQuery("work_mem=8MB", settingsOf, other, "")),
			},
		},
	})
}

// default_transaction_read_only = on for the very database the provider connects to: the
// provider's next sessions start read-only. The next apply (a change, then destroy) must
// still be able to write: the provider's sessions start with default_transaction_read_only
// off. Before, a fresh provider's destroy (and any write) was refused with "cannot execute
// ALTER DATABASE in a read-only transaction", and it could not undo the setting it made.
func TestAccSettingsAttack_ReadOnlyOwnDatabase(t *testing.T) {
	a := newAccDatabase(t, nil)
	t.Cleanup(func() { a.Exec(t, `BEGIN READ WRITE; ALTER DATABASE `+quoteIdent(a.Name)+` RESET ALL; COMMIT`) })
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: freshProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", settingsOf, a.Name, "")),
		Steps: []resource.TestStep{
			{
				Config: settingsAttackConfig(a, a.Name, "", `default_transaction_read_only = "on"`),
				Check:  dbChecks(a.ExpectQuery("default_transaction_read_only=on", settingsOf, a.Name, "")),
			},
			{
				Config: settingsAttackConfig(a, a.Name, "", `default_transaction_read_only = "on", work_mem = "8MB"`),
				Check:  dbChecks(a.ExpectQuery("default_transaction_read_only=on | work_mem=8MB", settingsOf, a.Name, "")),
			},
		},
	})
}

// Hostile database and role names: quotes, slashes, spaces, unicode, 63 bytes; the ID
// imports back.
func TestAccSettingsAttack_HostileNames(t *testing.T) {
	a := newAccDatabase(t, nil)
	suffix := accName(t)[len(accName(t))-6:]
	db := `"db/` + suffix + ` é'x/`
	role := `/r "ö" ` + suffix + strings.Repeat("x", 63-len(`/r "ö" `+suffix))
	if len(role) != 63 {
		t.Fatalf("role is %d bytes", len(role))
	}
	a.Exec(t, `CREATE DATABASE `+quoteIdent(db))
	t.Cleanup(func() { a.Exec(t, `DROP DATABASE IF EXISTS `+quoteIdent(db)) })
	a.Exec(t, `CREATE ROLE `+quoteIdent(role))
	t.Cleanup(func() { a.Exec(t, `DROP ROLE IF EXISTS `+quoteIdent(role)) })
	config := a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_settings" "db" {
  database = %[1]q
  settings = { work_mem = "8MB" }
}
resource "pgshard_settings" "pair" {
  database = %[1]q
  role     = %[2]q
  settings = { work_mem = "16MB" }
}
resource "pgshard_settings" "role" {
  role     = %[2]q
  settings = { work_mem = "32MB" }
}`, db, role)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: dbChecks(a.ExpectQuery("<none>", settingsOf, db, ""), a.ExpectQuery("<none>", settingsOf, db, role),
			a.ExpectQuery("<none>", settingsOf, "", role)),
		Steps: []resource.TestStep{
			{
				// 64 bytes is refused before anything reaches the server.
				Config:      settingsAttackConfig(a, "", role+"y", `work_mem = "8MB"`),
				PlanOnly:    true,
				ExpectError: expectError(`is 64 bytes long`),
			},
			{
				Config: config,
				Check: dbChecks(a.ExpectQuery("work_mem=8MB", settingsOf, db, ""), a.ExpectQuery("work_mem=16MB", settingsOf, db, role),
					a.ExpectQuery("work_mem=32MB", settingsOf, "", role)),
			},
			{ResourceName: "pgshard_settings.db", ImportState: true, ImportStateVerify: true},
			{ResourceName: "pgshard_settings.pair", ImportState: true, ImportStateVerify: true},
			{ResourceName: "pgshard_settings.role", ImportState: true, ImportStateVerify: true},
		},
	})
}

// ANALYZE of a new foreign partition fails (the shard table is a view whose id column
// errors when postgres_fdw samples every column, while the create's own reads of the
// partition key succeed): a warning, not an error, and the partition is in the state.
func TestAccSettingsAttack_AnalyzeFails(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	shard.Exec(t, `CREATE TABLE europe_tweets_rows (id bigint, location text NOT NULL)`)
	shard.Exec(t, `INSERT INTO europe_tweets_rows SELECT g, 'europe' FROM generate_series(1, 100) g`)
	shard.Exec(t, `CREATE VIEW europe_tweets AS SELECT (id / (id - 50))::bigint AS id, location FROM europe_tweets_rows`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: analyzedConfig(base, `["europe"]`, "fail"),
				Check: dbChecks(base.ExpectQuery("-1", reltuples, "europe_tweets"),
					base.ExpectQuery("1", `SELECT count(*) FROM pg_inherits WHERE inhrelid = 'europe_tweets'::regclass`),
					func() error { // the ANALYZE the provider ran fails, so the warning path ran
						if _, err := base.DB.Exec(`ANALYZE europe_tweets`); err == nil || !strings.Contains(err.Error(), "division by zero") {
							return fmt.Errorf("ANALYZE europe_tweets: %v, want division by zero", err)
						}
						return nil
					}),
			},
			{Config: analyzedConfig(base, `["europe"]`, "fail"), PlanOnly: true},
		},
	})
}
