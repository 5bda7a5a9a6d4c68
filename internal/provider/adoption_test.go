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
	"strconv"
	"strings"
	"testing"

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

	var err error
	if s.appDB, err = s.base.Cluster.OpenAs(s.base.Name, s.app, s.appPassword); err != nil {
		t.Fatal(err)
	}
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
// is empty. Then the guide's step 5, with the blocks it prints: the objects are made what
// modules/sharded-table makes (the shard table adopted), and the module's call with moved
// blocks plans nothing but moves; after it, the next plan is empty and the rows read the same.
// Last, the Teardown guide on the stack under the module.
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

	outputs = append(outputs, adoptIntoModule(t, s, ws, string(generated))...)
	if got, err := s.mappingOptions(); err != nil || got != wantOptions {
		t.Errorf("under the module the mapping's options differ from the hand-made ones (%v)", err)
	}
	if got, err := s.appReads(); err != nil || got != wantReads {
		t.Errorf("under the module %s reads %q (%v) through the parent, want %q", s.app, got, err, wantReads)
	}
	outputs = append(outputs, tearDown(t, s, ws)...)
	for _, out := range outputs {
		if strings.Contains(out, s.remotePassword) || strings.Contains(out, s.shard.Cluster.Password) {
			t.Fatalf("the CLI printed a mapping's password:\n%s", out)
		}
	}
}

// adoptIntoModule runs the adoption guide's step 5 in ws, whose configuration is the
// provider block, the import blocks, generated (the generated configuration, password filled
// in) and variables.tf: 5.1 adds and sets what the guide prints, and its apply adopts the shard
// table; 5.2 replaces the moving objects' blocks with the guide's module call and moved
// blocks, whose plan must only move. It returns the CLI's outputs.
func adoptIntoModule(t *testing.T, s *handMadeStack, ws *postgrestest.Workspace, generated string) []string {
	t.Helper()
	guide, err := os.ReadFile(adoptionGuide)
	if err != nil {
		t.Fatal(err)
	}
	// The guide's example names, for this test's databases and roles.
	names := strings.NewReplacer(`"europe-db"`, strconv.Quote(s.shard.Cluster.Host), `= 5432`, fmt.Sprintf("= %d", s.shard.Cluster.Port),
		`"eutweets"`, strconv.Quote(s.shard.Name), `"eu_owner"`, strconv.Quote(s.shard.Cluster.User))
	block := func(marker string) string { return names.Replace(guideBlock(t, string(guide), marker)) }
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ws.Dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var outputs []string
	run := func(args ...string) string {
		t.Helper()
		out := ws.Must(t, args...)
		outputs = append(outputs, out)
		return out
	}
	ws.SetVars(t, map[string]any{"europe_password": s.remotePassword, "europe_owner_password": s.shard.Cluster.Password})

	// 5.1: the dblink extension, the provider's own mapping, and the foreign partition set
	// to manage its shard table.
	prep := block(stepPrepare)
	write("module-prep.tf", prep)
	prepared := generated
	for header, attrs := range map[string]string{
		`resource "pgshard_foreign_server" "europe"`:    "  options = {}\n",
		`resource "pgshard_foreign_partition" "europe"`: block(stepPreparePartition),
	} {
		prepared = strings.Replace(prepared, hclBlock(t, prepared, header), setAttributes(t, hclBlock(t, prepared, header), attrs), 1)
	}
	if !strings.Contains(string(guide), "```terraform\n  options = {}\n```") {
		t.Errorf("the guide's step 5.1 should set options = {} on the foreign server")
	}
	write("generated.tf", prepared)
	prepPlan := run("plan", "-out=prep.tfplan", "-no-color")
	changes := planChanges(t, ws.Must(t, "show", "-json", "prep.tfplan"))
	for address, want := range map[string]string{
		"pgshard_extension.dblink": "create", "pgshard_user_mapping.europe_provider": "create",
		"pgshard_foreign_server.europe": "update", "pgshard_foreign_partition.europe": "update",
	} {
		if got := changes[address].actions; got != want {
			t.Errorf("step 5.1 plans %q for %s, want %q:\n%s", got, address, want, prepPlan)
		}
		delete(changes, address)
	}
	for address, c := range changes {
		if c.actions != "no-op" {
			t.Errorf("step 5.1 plans %q for %s, want no change:\n%s", c.actions, address, prepPlan)
		}
	}
	run("apply", "-no-color", "prep.tfplan")
	ws.PlanIsEmpty(t)
	if got, err := s.shard.QueryString(`SELECT count(*) FROM pg_constraint WHERE conrelid = 'europe_tweets'::regclass AND contype = 'c'`); err != nil || got != "1" {
		t.Errorf("after step 5.1 the shard table has %s CHECK constraints (%v), want 1 (the bound's)", got, err)
	}

	// 5.2: the import blocks and the moving objects' blocks go; the module and the moved
	// blocks come. The provider block stays, and so do tweets_app's mapping and its grant.
	write("main.tf", s.base.ProviderConfig())
	if err := os.Remove(filepath.Join(ws.Dir, "module-prep.tf")); err != nil {
		t.Fatal(err)
	}
	staying := []string{`resource "pgshard_user_mapping" "europe"`, `resource "pgshard_foreign_server_usage" "europe_` + s.app + `"`}
	var kept []string
	for _, header := range staying {
		kept = append(kept, setAttributes(t, hclBlock(t, generated, header), block(stepServerThroughModule)))
	}
	write("generated.tf", strings.Join(kept, "\n\n")+"\n")
	write("owner-password.tf", hclBlock(t, prep, `variable "europe_owner_password"`)+"\n")
	write("module.tf", block(stepModule))
	write("moved.tf", block(stepMoved))
	copyModule(t, filepath.Join(ws.Dir, "modules", "sharded-table"))
	run("init", "-no-color")
	movePlan := run("plan", "-out=move.tfplan", "-no-color")
	moved := 0
	for address, c := range planChanges(t, ws.Must(t, "show", "-json", "move.tfplan")) {
		if c.actions != "no-op" {
			t.Errorf("the module's plan does %q to %s, want only moves (no-op):\n%s", c.actions, address, movePlan)
		}
		if c.previous != "" && c.previous != address {
			moved++
		}
	}
	if moved != 7 {
		t.Errorf("the module's plan moves %d objects, want 7", moved)
	}
	run("apply", "-no-color", "move.tfplan")
	ws.PlanIsEmpty(t)
	return outputs
}

// tearDown runs the Teardown guide on the stack adoptIntoModule left in ws, after turning
// moves on (as a stack that reshards has them) and with a row in DEFAULT: the destroy is
// refused at plan, dropping nothing, and names both settings; one apply of the guide's two
// settings changes only settings; then the destroy drops the base's objects and the shard
// keeps its rows. It returns the CLI's outputs.
func tearDown(t *testing.T, s *handMadeStack, ws *postgrestest.Workspace) []string {
	t.Helper()
	guide, err := os.ReadFile(teardownGuide)
	if err != nil {
		t.Fatal(err)
	}
	modulePath := filepath.Join(ws.Dir, "module.tf")
	set := func(attrs string) {
		t.Helper()
		config, err := os.ReadFile(modulePath)
		if err == nil {
			err = os.WriteFile(modulePath, []byte(setAttributes(t, string(config), attrs)), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var outputs []string
	set("  moves_enabled = true\n")
	outputs = append(outputs, ws.Must(t, "apply", "-auto-approve", "-no-color"))

	refused, code := ws.Run(t, "destroy", "-auto-approve", "-no-color")
	outputs = append(outputs, refused)
	flat := strings.Join(strings.Fields(refused), " ")
	if code == 0 {
		t.Fatalf("the destroy with moves on and a row in DEFAULT should be refused:\n%s", refused)
	}
	for _, want := range []string{"Destroy Refused", `Set on_rows_outside_bound = "fail"`, "set force_destroy = true", "Nothing has been changed"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the refused destroy does not say %q:\n%s", want, refused)
		}
	}
	stillThere := s.base.ExpectQuery("4", `SELECT count(*) FROM tweets`)
	if err := stillThere(); err != nil {
		t.Errorf("after the refused destroy: %v", err)
	}

	set(guideBlock(t, string(guide), teardownSettings))
	settings := ws.Must(t, "plan", "-out=teardown.tfplan", "-no-color")
	outputs = append(outputs, settings)
	for address, c := range planChanges(t, ws.Must(t, "show", "-json", "teardown.tfplan")) {
		if c.actions != "no-op" && c.actions != "update" {
			t.Errorf("the Teardown guide's apply does %q to %s, want only settings changed:\n%s", c.actions, address, settings)
		}
	}
	outputs = append(outputs, ws.Must(t, "apply", "-no-color", "teardown.tfplan"))
	outputs = append(outputs, ws.Must(t, "destroy", "-auto-approve", "-no-color"))
	for _, check := range []func() error{
		s.shard.ExpectQuery("3", `SELECT count(*) FROM europe_tweets`),
		s.base.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname IN ('tweets', 'tweets_default', 'europe_tweets')`),
		s.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server WHERE srvname = 'europe'`),
	} {
		if err := check(); err != nil {
			t.Errorf("after the destroy: %v", err)
		}
	}
	return outputs
}

// The guides' templates, which print what the adoption test runs: it finds each block it
// writes by a string only that block has.
const (
	adoptionGuide = "../../templates/guides/adopting.md.tmpl"
	teardownGuide = "../../templates/guides/teardown.md.tmpl"

	stepPrepare             = `resource "pgshard_extension" "dblink"` // 5.1: what the configuration gains
	stepPreparePartition    = "create_remote_table    = true"         // 5.1: set on the foreign partition
	stepServerThroughModule = `module.tweets.servers["europe"]`       // 5.2: set on the objects that stay
	stepModule              = `module "tweets"`
	stepMoved               = "moved {"
	teardownSettings        = "moves_enabled = false" // the two settings, in the module's block
)

// guideBlock returns the one ```terraform block of guide that contains marker.
func guideBlock(t *testing.T, guide, marker string) string {
	t.Helper()
	var found []string
	for _, b := range fencedBlocks(guide, "terraform") {
		if strings.Contains(b, marker) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the guide has %d terraform blocks with %q, want 1", len(found), marker)
	}
	return found[0]
}

// hclBlock returns the top-level block of text that starts with header, up to its closing
// brace (as terraform fmt and -generate-config-out write them, at the start of a line).
func hclBlock(t *testing.T, text, header string) string {
	t.Helper()
	start := strings.Index(text, header+" {\n")
	if start < 0 {
		t.Fatalf("no block %s in:\n%s", header, text)
	}
	end := strings.Index(text[start:], "\n}")
	if end < 0 {
		t.Fatalf("block %s does not end", header)
	}
	return text[start : start+end+2]
}

// setAttributes sets in block each `name = value` line of attrs: in place of the block's line
// for that name, or before its closing brace.
func setAttributes(t *testing.T, block, attrs string) string {
	t.Helper()
	trailing := block[len(strings.TrimRight(block, "\n")):]
	block = strings.TrimRight(block, "\n")
	for _, line := range strings.Split(strings.Trim(attrs, "\n"), "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			t.Fatalf("not an attribute: %q", line)
		}
		existing := regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(strings.TrimSpace(name)) + `[ \t]*=.*$`)
		if existing.MatchString(block) {
			block = existing.ReplaceAllLiteralString(block, line)
		} else {
			block = strings.TrimSuffix(block, "}") + line + "\n}"
		}
	}
	return block + trailing
}

// copyModule copies modules/sharded-table's configuration (not its tests) to dst.
func copyModule(t *testing.T, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../modules/sharded-table/*.tf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no module files (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// plannedChange is what a JSON plan says of one resource instance.
type plannedChange struct {
	actions  string // joined with "," ("no-op", "create", "delete,create")
	previous string // previous_address: where a moved object was
}

// planChanges reads the resource changes of `terraform show -json` of a plan, by address.
func planChanges(t *testing.T, showJSON string) map[string]plannedChange {
	t.Helper()
	var plan struct {
		ResourceChanges []struct {
			Address         string `json:"address"`
			PreviousAddress string `json:"previous_address"`
			Change          struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(showJSON), &plan); err != nil {
		t.Fatalf("reading the JSON plan: %v", err) // not printed: it holds the passwords
	}
	out := map[string]plannedChange{}
	for _, rc := range plan.ResourceChanges {
		out[rc.Address] = plannedChange{strings.Join(rc.Change.Actions, ","), rc.PreviousAddress}
	}
	return out
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
	appDB, err := base.Cluster.OpenAs(base.Name, app, appPassword)
	if err != nil {
		t.Fatal(err)
	}
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
// applies and the test's name, and has the blocks of step 5 that the test reads; the
// Teardown guide has the settings the test applies.
func TestAdoptionGuide_UpToDate(t *testing.T) {
	guide, err := os.ReadFile(adoptionGuide)
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
	// Step 5's blocks, which the adoption test reads from the guide.
	for _, marker := range []string{stepPrepare, stepPreparePartition, stepServerThroughModule, stepModule, stepMoved} {
		guideBlock(t, string(guide), marker)
	}
	teardown, err := os.ReadFile(teardownGuide)
	if err != nil {
		t.Fatal(err)
	}
	guideBlock(t, string(teardown), teardownSettings)
	if !regexp.MustCompile(`\bTestAccAdoption_GeneratedConfig\b`).Match(teardown) {
		t.Errorf("the Teardown guide should name the test that runs it, TestAccAdoption_GeneratedConfig")
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
