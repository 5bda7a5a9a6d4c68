package provider

import (
	"database/sql"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// handMadeStack is the tutorial's sharded tweets table made with plain SQL, before any
// Terraform: postgres_fdw on the base, a foreign server for the europe shard, a user
// mapping with a password for a role that is not a superuser (the application's), the
// partitioned parent with a foreign partition on the shard and a local DEFAULT.
type handMadeStack struct {
	base, shard            *accDatabase
	app, appPassword       string // the application's role on the base
	remote, remotePassword string // the mapping's role on the shard
	appDB                  *sql.DB
}

// handMadeShardSQL and handMadeBaseSQL make the stack, as templates/guides/adopting.md.tmpl
// prints them (with its example names; a test keeps the two equal). The roles exist already.
var handMadeShardSQL = []string{
	`CREATE TABLE europe_tweets (id bigint NOT NULL, location text NOT NULL, body text);`,
	`GRANT SELECT, INSERT, UPDATE, DELETE ON europe_tweets TO {remote_role};`,
}

var handMadeBaseSQL = []string{
	`CREATE EXTENSION postgres_fdw;`,
	`CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host {host}, port {port}, dbname {shard_database});`,
	`GRANT USAGE ON FOREIGN SERVER europe TO {app};`,
	`CREATE USER MAPPING FOR {app} SERVER europe OPTIONS (user {remote}, password {remote_password});`,
	`CREATE TABLE tweets (id bigint NOT NULL, location text NOT NULL, body text) PARTITION BY LIST (location);`,
	`CREATE FOREIGN TABLE europe_tweets PARTITION OF tweets FOR VALUES IN ('europe') SERVER europe OPTIONS (table_name 'europe_tweets');`,
	`CREATE TABLE tweets_default PARTITION OF tweets DEFAULT;`,
	`GRANT SELECT, INSERT ON tweets TO {app};`,
}

// guideNames are the example names the adoption guide prints the stack with.
var guideNames = strings.NewReplacer("{app}", "tweets_app", "{remote}", "'eu_app'", "{remote_role}", "eu_app", "{remote_password}", "'...'",
	"{host}", "'europe-db'", "{port}", "'5432'", "{shard_database}", "'eutweets'")

func newHandMadeStack(t *testing.T) *handMadeStack {
	t.Helper()
	n := mathrand.IntN(1000000)
	s := &handMadeStack{
		base:  newAccDatabase(t, nil),
		shard: newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 }),
		app:   fmt.Sprintf("adopt_app_%06d", n), appPassword: fmt.Sprintf("app-pw-%06d", n),
		// A quote, a backslash and an "=" go through the variable, the catalog and the CLI.
		remote: fmt.Sprintf("adopt_eu_%06d", n), remotePassword: fmt.Sprintf(`eu'=\pw%06d`, n),
	}
	createRole := func(db *accDatabase, role, password string) {
		db.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, quoteIdent(role), quoteLiteral(password)))
		t.Cleanup(func() {
			for _, stmt := range []string{
				fmt.Sprintf(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = %s`, quoteLiteral(role)),
				`DROP OWNED BY ` + quoteIdent(role), `DROP ROLE ` + quoteIdent(role),
			} {
				if _, err := db.DB.Exec(stmt); err != nil {
					t.Errorf("cleanup: %s: %v", stmt, err)
				}
			}
		})
	}
	createRole(s.base, s.app, s.appPassword)
	createRole(s.shard, s.remote, s.remotePassword)

	names := strings.NewReplacer("{app}", quoteIdent(s.app), "{remote}", quoteLiteral(s.remote), "{remote_password}", quoteLiteral(s.remotePassword),
		"{remote_role}", quoteIdent(s.remote), "{host}", quoteLiteral(s.shard.Cluster.Host), "{port}", quoteLiteral(fmt.Sprint(s.shard.Cluster.Port)),
		"{shard_database}", quoteLiteral(s.shard.Name))
	for _, stmt := range handMadeShardSQL {
		s.shard.Exec(t, names.Replace(stmt))
	}
	for _, stmt := range handMadeBaseSQL {
		s.base.Exec(t, names.Replace(stmt))
	}
	s.shard.Exec(t, `INSERT INTO europe_tweets VALUES (1, 'europe', 'hallo'), (2, 'europe', 'moin'), (3, 'europe', 'servus')`)
	s.base.Exec(t, `INSERT INTO tweets_default VALUES (4, 'mars', 'beep')`)

	conn, err := pq.NewConnector(fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=disable",
		conninfoQuote(s.base.Cluster.Host), s.base.Cluster.Port, conninfoQuote(s.base.Name), conninfoQuote(s.app), conninfoQuote(s.appPassword)))
	if err != nil {
		t.Fatal(err)
	}
	s.appDB = sql.OpenDB(conn)
	t.Cleanup(func() { s.appDB.Close() }) // before the roles are dropped (cleanups run last first)
	return s
}

// appReads returns what the application's role reads through the parent: every row, and
// the europe rows (which come from the shard through the user mapping).
func (s *handMadeStack) appReads() (string, error) {
	var all, europe int
	err := s.appDB.QueryRow(`SELECT count(*), count(*) FILTER (WHERE location = 'europe') FROM tweets`).Scan(&all, &europe)
	return fmt.Sprintf("%d rows, %d from europe", all, europe), err
}

// mappingOptions returns the mapping's options as the catalog holds them (read as the
// superuser, who sees them), password included.
func (s *handMadeStack) mappingOptions() (string, error) {
	return s.base.QueryString(`SELECT array_to_string(umoptions, ',') FROM pg_user_mappings WHERE srvname = 'europe' AND usename = $1`, s.app)
}

// adoptionImports are the import blocks for every object of the hand-made stack, whose
// application role is app.
func adoptionImports(app string) string {
	return fmt.Sprintf(`
import {
  to = pgshard_extension.postgres_fdw
  id = "postgres_fdw"
}

import {
  to = pgshard_foreign_server.europe
  id = "europe"
}

import {
  to = pgshard_user_mapping.europe
  id = "europe/%[1]s"
}

import {
  to = pgshard_partitioned_table.tweets
  id = "public.tweets"
}

import {
  to = pgshard_foreign_partition.europe
  id = "public.europe_tweets"
}

import {
  to = pgshard_partition.default
  id = "public.tweets_default"
}

import {
  to = pgshard_foreign_server_usage.europe_%[1]s
  id = "europe/%[1]s"
}
`, app)
}

// generatedPassword is the line -generate-config-out writes for a mapping's password:
// Terraform never writes a sensitive value into generated configuration.
var generatedPassword = regexp.MustCompile(`(?m)^(\s*)password\s*=\s*null\s*# sensitive\s*$`)

// The adoption guide's path, with the real CLI: import blocks for a stack made by hand,
// `terraform plan -generate-config-out`, the password filled in from a variable, apply.
// The plan of the generated configuration as written warns that it removes the mapping's
// password; once the password is filled in, the apply leaves the mapping's options as they
// were, the application's role still reads the shard through the parent, and the next plan
// is empty.
func TestAccAdoption_GeneratedConfig(t *testing.T) {
	s := newHandMadeStack(t)
	wantReads := "4 rows, 3 from europe"
	if got, err := s.appReads(); err != nil || got != wantReads {
		t.Fatalf("the hand-made stack reads %q (%v) as %s, want %q", got, err, s.app, wantReads)
	}
	wantOptions, err := s.mappingOptions()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(s.base.ProviderConfig()+adoptionImports(s.app)), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := postgrestest.NewWorkspace(t, dir)
	var outputs []string
	run := func(args ...string) string {
		t.Helper()
		out := ws.Must(t, args...)
		outputs = append(outputs, out)
		return out
	}
	run("init", "-no-color")
	generate := run("plan", "-generate-config-out=generated.tf", "-no-color")
	generatedPath := filepath.Join(ws.Dir, "generated.tf")
	generated, err := os.ReadFile(generatedPath)
	if err != nil {
		t.Fatalf("no generated configuration: %v\n%s", err, generate)
	}
	if n := len(generatedPassword.FindAll(generated, -1)); n != 1 {
		t.Fatalf("the generated configuration has %d `password = null # sensitive` lines, want 1 (the user mapping's):\n%s", n, generated)
	}

	// As generated, the plan removes the password: it must say so, and what to do.
	for name, out := range map[string]string{"plan -generate-config-out": generate, "plan": run("plan", "-no-color")} {
		flat := strings.Join(strings.Fields(out), " ")
		for _, want := range []string{
			"Warning: User Mapping Password Will Be Removed",
			fmt.Sprintf(`user mapping for "%s" on server "europe"`, s.app),
			`fails with "password is required"`,
			"set `password`",
		} {
			if !strings.Contains(flat, want) {
				t.Errorf("%s of the generated configuration does not say %q:\n%s", name, want, out)
			}
		}
	}

	// What the guide tells the user to fill in: the password, from a sensitive variable.
	generated = generatedPassword.ReplaceAll(generated, []byte("${1}password = var.europe_password"))
	if err := os.WriteFile(generatedPath, generated, 0o644); err != nil {
		t.Fatal(err)
	}
	variables := "variable \"europe_password\" {\n  type      = string\n  sensitive = true\n}\n"
	if err := os.WriteFile(filepath.Join(ws.Dir, "variables.tf"), []byte(variables), 0o644); err != nil {
		t.Fatal(err)
	}
	ws.SetVars(t, map[string]any{"europe_password": s.remotePassword})
	if out := run("plan", "-out=filled.tfplan", "-no-color"); strings.Contains(out, "Password Will Be Removed") || !strings.Contains(out, "7 to import, 0 to add") {
		t.Errorf("with the password filled in, the plan should import the 7 objects without a warning about the password:\n%s", out)
	}
	// Not in outputs: the JSON plan holds the state's sensitive values.
	importsOnly(t, ws.Must(t, "show", "-json", "filled.tfplan"), 7)
	run("apply", "-no-color", "filled.tfplan")

	if got, err := s.mappingOptions(); err != nil || got != wantOptions {
		t.Errorf("after the apply the mapping's options differ from the hand-made ones (%v)", err) // not printed: they hold the password
	}
	if got, err := s.appReads(); err != nil || got != wantReads {
		t.Errorf("after the apply %s reads %q (%v) through the parent, want %q", s.app, got, err, wantReads)
	}
	ws.PlanIsEmpty(t)
	for _, out := range outputs {
		if strings.Contains(out, s.remotePassword) {
			t.Fatalf("the CLI printed the mapping's password:\n%s", out)
		}
	}
}

// A plan that takes a password away from a user mapping warns when postgres_fdw needs it
// (a role that is not a superuser, PUBLIC; a password the catalog holds and state does not,
// as with -refresh=false), naming each such mapping, and not when it does
// not (a superuser's mapping, password_required 'false') or when password_wo replaces it
// (on a CLI with write-only attributes). The apply then does break what the warning says:
// queries through those servers as the application's role fail with "password is required";
// setting the password again repairs them.
func TestAccUserMapping_PasswordRemovalWarns(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	n := mathrand.IntN(1000000)
	app, appPassword := fmt.Sprintf("pwwarn_app_%06d", n), fmt.Sprintf("app-pw-%06d", n)
	boss := fmt.Sprintf("pwwarn_boss_%06d", n)
	remote, remotePassword := fmt.Sprintf("pwwarn_eu_%06d", n), fmt.Sprintf(`eu'=\pw%06d`, n)
	for _, r := range []struct {
		db         *accDatabase
		role, attr string
	}{{base, app, "LOGIN PASSWORD " + quoteLiteral(appPassword)}, {base, boss, "SUPERUSER"}, {shard, remote, "LOGIN PASSWORD " + quoteLiteral(remotePassword)}} {
		r.db.Exec(t, fmt.Sprintf(`CREATE ROLE %s %s`, quoteIdent(r.role), r.attr))
		t.Cleanup(func() {
			r.db.Exec(t, fmt.Sprintf(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = %s`, quoteLiteral(r.role)))
			r.db.Exec(t, `DROP OWNED BY `+quoteIdent(r.role))
			r.db.Exec(t, `DROP ROLE `+quoteIdent(r.role))
		})
	}
	shard.Exec(t, `CREATE TABLE nums AS SELECT 7 AS n`)
	shard.Exec(t, `GRANT SELECT ON nums TO `+quoteIdent(remote))
	servers := []string{"s_app", "s_public", "s_super", "s_nopw", "s_wo", "s_oob"}
	for _, s := range servers {
		base.Exec(t, fmt.Sprintf(`CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`,
			s, quoteLiteral(shard.Cluster.Host), shard.Cluster.Port, quoteLiteral(shard.Name)))
		base.Exec(t, fmt.Sprintf(`GRANT USAGE ON FOREIGN SERVER %s TO %s`, s, quoteIdent(app)))
		base.Exec(t, fmt.Sprintf(`CREATE FOREIGN TABLE %s_nums (n int) SERVER %s OPTIONS (table_name 'nums')`, s, s))
		base.Exec(t, fmt.Sprintf(`GRANT SELECT ON %s_nums TO %s`, s, quoteIdent(app)))
	}
	conn, err := pq.NewConnector(fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=disable",
		conninfoQuote(base.Cluster.Host), base.Cluster.Port, conninfoQuote(base.Name), conninfoQuote(app), conninfoQuote(appPassword)))
	if err != nil {
		t.Fatal(err)
	}
	appDB := sql.OpenDB(conn)
	t.Cleanup(func() { appDB.Close() })
	appReads := func(server string) error {
		appDB.SetMaxIdleConns(0) // a new session, so that postgres_fdw connects anew
		var got int
		if err := appDB.QueryRow(`SELECT n FROM ` + server + `_nums`).Scan(&got); err != nil {
			return err
		}
		if got != 7 {
			return fmt.Errorf("read %d through %s, want 7", got, server)
		}
		return nil
	}

	writeOnly := cliSupportsWriteOnly(t)
	config := func(withPasswords bool) string {
		oobUser := "nobody"
		if !withPasswords {
			oobUser = remote
		}
		password := ""
		if withPasswords {
			password = `password = var.password`
		}
		wo := `password = var.password`
		if !withPasswords && writeOnly {
			wo = "password_wo = var.password\n  password_wo_version = 1"
		}
		return base.ProviderConfig() + fmt.Sprintf(`
variable "password" {
  type      = string
  sensitive = true
}

resource "pgshard_user_mapping" "app" {
  server = "s_app"
  role   = %[1]q
  user   = %[3]q
  %[4]s
}

resource "pgshard_user_mapping" "public" {
  server = "s_public"
  role   = "PUBLIC"
  user   = %[3]q
  %[4]s
}

resource "pgshard_user_mapping" "super" {
  server = "s_super"
  role   = %[2]q
  user   = %[3]q
  %[4]s
}

resource "pgshard_user_mapping" "nopw" {
  server  = "s_nopw"
  role    = %[1]q
  user    = %[3]q
  options = { password_required = "false" }
  %[4]s
}

resource "pgshard_user_mapping" "wo" {
  server = "s_wo"
  role   = %[1]q
  user   = %[3]q
  %[5]s
}

# Made without a password; one is added out of band, and the change of user diffs against
# the catalog, so it drops that password.
resource "pgshard_user_mapping" "oob" {
  server = "s_oob"
  role   = %[1]q
  user   = %[6]q
}
`, app, boss, remote, password, wo, oobUser)
	}
	dir := t.TempDir()
	write := func(withPasswords bool) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config(withPasswords)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(true)
	ws := postgrestest.NewWorkspace(t, dir)
	dir = ws.Dir
	ws.SetVars(t, map[string]any{"password": remotePassword})
	ws.Must(t, "init", "-no-color")
	if out := ws.Must(t, "apply", "-auto-approve", "-no-color"); strings.Contains(out, "Password Will Be Removed") {
		t.Errorf("creating the mappings warns:\n%s", out)
	}
	for _, s := range []string{"s_app", "s_public", "s_nopw", "s_wo"} {
		if err := appReads(s); err != nil {
			t.Fatalf("before the change, %s cannot read through %s: %v", app, s, err)
		}
	}

	base.Exec(t, fmt.Sprintf(`ALTER USER MAPPING FOR %s SERVER s_oob OPTIONS (ADD password %s)`, quoteIdent(app), quoteLiteral(remotePassword)))
	write(false)
	// -json: the human output folds warnings with the same summary into the first.
	// -refresh=false: s_oob's password is in the catalog only.
	out := ws.Must(t, "plan", "-json", "-refresh=false")
	flat := planWarnings(t, out, "User Mapping Password Will Be Removed")
	if got := strings.Count(flat, "removes the password of"); got != 3 {
		t.Errorf("the plan has %d password warnings, want 3 (s_app, s_public and s_oob):\n%s", got, flat)
	}
	for _, want := range []string{
		fmt.Sprintf(`removes the password of the user mapping for "%s" on server "s_app"`, app),
		fmt.Sprintf(`role "%s", which is not a superuser`, app),
		`removes the password of the user mapping for PUBLIC on server "s_public"`,
		fmt.Sprintf(`removes the password of the user mapping for "%s" on server "s_oob"`, app),
		`every query through server "s_app" as that role fails with "password is required"`,
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the plan does not say %q:\n%s", want, flat)
		}
	}
	for _, server := range []string{"s_super", "s_nopw", "s_wo"} {
		if strings.Contains(flat, fmt.Sprintf(`on server "%s"`, server)) {
			t.Errorf("the plan warns about the mapping on %s, which needs no password:\n%s", server, flat)
		}
	}
	if strings.Contains(out, remotePassword) {
		t.Fatalf("the plan prints the password:\n%s", out)
	}

	// What the warning says happens, happens.
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	for _, s := range []string{"s_app", "s_public", "s_oob"} {
		if err := appReads(s); err == nil || !strings.Contains(err.Error(), "password is required") {
			t.Errorf("after the password was removed, reading through %s as %s gave %v, want \"password is required\"", s, app, err)
		}
	}
	if err := appReads("s_wo"); err != nil {
		t.Errorf("reading through s_wo, whose password stayed: %v", err)
	}

	write(true)
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	for _, s := range []string{"s_app", "s_public"} {
		if err := appReads(s); err != nil {
			t.Errorf("after the password was set again, reading through %s as %s: %v", s, app, err)
		}
	}
	ws.PlanIsEmpty(t)
}

// planWarnings returns the details of the warnings with summary in the machine-readable
// output of `plan -json`, one a line, with whitespace runs folded to one space.
func planWarnings(t *testing.T, out, summary string) string {
	t.Helper()
	var details []string
	for _, line := range strings.Split(out, "\n") {
		var msg struct {
			Type       string `json:"type"`
			Diagnostic struct {
				Severity, Summary, Detail string
			} `json:"diagnostic"`
		}
		if json.Unmarshal([]byte(line), &msg) != nil || msg.Type != "diagnostic" {
			continue
		}
		if d := msg.Diagnostic; d.Severity == "warning" && d.Summary == summary {
			details = append(details, strings.Join(strings.Fields(d.Detail), " "))
		}
	}
	return strings.Join(details, "\n")
}

// The adoption guide prints the stack the adoption test makes, the import blocks it
// applies and the test's name.
func TestAdoptionGuide_UpToDate(t *testing.T) {
	guide, err := os.ReadFile("../../templates/guides/adopting.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range append(append([]string{}, handMadeShardSQL...), handMadeBaseSQL...) {
		if stmt := guideNames.Replace(stmt); !strings.Contains(string(guide), stmt) {
			t.Errorf("templates/guides/adopting.md.tmpl should print %q", stmt)
		}
	}
	if imports := strings.TrimSpace(adoptionImports("tweets_app")); !strings.Contains(string(guide), imports) {
		t.Errorf("templates/guides/adopting.md.tmpl should print the import blocks:\n%s", imports)
	}
	for _, test := range []string{"TestAccAdoption_GeneratedConfig", "TestAccUserMapping_PasswordRemovalWarns"} {
		if !regexp.MustCompile(`\b` + test + `\b`).Match(guide) {
			t.Errorf("the guide should name the test %s", test)
		}
	}
}

// importsOnly fails the test unless the JSON plan imports n resources and changes no value
// of any. (Terraform 1.5 plans an update without a changed value for a resource whose
// sensitive attribute is set from a sensitive variable: it records the sensitivity in state.)
func importsOnly(t *testing.T, showJSON string, n int) {
	t.Helper()
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				Actions       []string `json:"actions"`
				Before, After any
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(showJSON), &plan); err != nil {
		t.Fatalf("reading the JSON plan: %v", err)
	}
	if len(plan.ResourceChanges) != n {
		t.Errorf("the plan has %d resource changes, want %d imports", len(plan.ResourceChanges), n)
	}
	for _, rc := range plan.ResourceChanges {
		if rc.Change.Before == nil || !reflect.DeepEqual(rc.Change.Before, rc.Change.After) {
			t.Errorf("the plan does not only import %s: %v (the values are not printed: they hold the password)", rc.Address, rc.Change.Actions)
		}
	}
}
