package provider

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// A mapping whose password is write-only reaches the shard; the password is in neither
// plan nor state; bumping password_wo_version rotates it in place, changing password_wo
// alone changes nothing, a password dropped out of band is set again, and the mapping
// moves to `password` and back. On a CLI without write-only attributes (< 1.11) the plan
// fails with the provider's error naming the attribute and the fix.
func TestAccUserMapping_WriteOnlyPassword(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	first, second, unused := `w0'=\pw-`+randomHex(t), `r0t'=\pw-`+randomHex(t), `unus3d'=\pw-`+randomHex(t)
	secrets := []string{first, second, unused}
	const role = "wo_rotor"
	shard.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, role, quoteLiteral(first)))
	t.Cleanup(func() {
		shard.Exec(t, `DROP OWNED BY `+role)
		shard.Exec(t, `DROP ROLE `+role)
	})
	shard.Exec(t, `CREATE VIEW whoami AS SELECT current_user::text AS name`)
	shard.Exec(t, `GRANT SELECT ON whoami TO `+role)

	const addr = "pgshard_user_mapping.europe"
	hcl := func(attrs string) string {
		return base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = %q
  port   = %d
  dbname = %q
}

resource "pgshard_user_mapping" "europe" {
  server = pgshard_foreign_server.europe.name
  user   = %q
  %s
}`, shard.Cluster.Host, shard.Cluster.Port, shard.Name, role, attrs)
	}
	// The password comes from an ephemeral variable, as it should in use: a literal would be
	// in the plan's copy of the configuration, a plain variable's value in the plan file.
	writeOnly := func(version int, extra ...string) string {
		return hcl(fmt.Sprintf("password_wo = var.shard_password\n  password_wo_version = %d\n  %s", version, strings.Join(extra, "\n  "))) + `

variable "shard_password" {
  type      = string
  sensitive = true
  ephemeral = true
}`
	}
	password := func(p string) config.Variables { return config.Variables{"shard_password": config.StringVariable(p)} }
	// Who the shard sees, through a foreign table made with SQL for the query and dropped
	// after it (so that it never keeps the server from being destroyed), on a fresh
	// postgres_fdw connection.
	whoami := func() error {
		if _, err := base.DB.Exec(`CREATE FOREIGN TABLE whoami (name text) SERVER europe OPTIONS (table_name 'whoami')`); err != nil {
			return err
		}
		defer base.Exec(t, `DROP FOREIGN TABLE whoami`)
		if _, err := base.DB.Exec(`SELECT postgres_fdw_disconnect_all()`); err != nil {
			return err
		}
		return base.ExpectQuery(role, `SELECT name FROM whoami`)()
	}
	catalogPassword := func(want string) func() error {
		return base.ExpectQuery("password="+want+" | user="+role, mappingOptionsQuery, "europe", "postgres")
	}

	if !cliSupportsWriteOnly(t) {
		tfresource.Test(t, tfresource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []tfresource.TestStep{{
				Config:      hcl(fmt.Sprintf("password_wo = %q\n  password_wo_version = 1", first)),
				ExpectError: expectError(`Write-Only Attribute Not Supported.*password_wo.*Terraform 1.11 or later.*set .password. instead`),
			}},
		})
		return
	}

	// Where the password must not be: the plan, the state, and what the provider says.
	hidden := func(version int64) []statecheck.StateCheck {
		return []statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("password"), knownvalue.Null()),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("password_wo"), knownvalue.Null()),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("password_wo_version"), knownvalue.Int64Exact(version)),
			noSecretIn{secrets},
		}
	}
	planChecks := func(action plancheck.ResourceActionType) tfresource.ConfigPlanChecks {
		return tfresource.ConfigPlanChecks{
			PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, action), noSecretIn{secrets}},
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), noSecretIn{secrets}},
		}
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(base.ExpectQuery("<none>", `SELECT srvname FROM pg_user_mappings`)),
		Steps: []tfresource.TestStep{
			{
				Config:            writeOnly(1),
				ConfigVariables:   password(first),
				ConfigPlanChecks:  planChecks(plancheck.ResourceActionCreate),
				ConfigStateChecks: hidden(1),
				Check:             dbChecks(catalogPassword(first), whoami),
			},
			{
				// Unchanged configuration: an empty plan, though the catalog has a password
				// and state has none.
				Config:            writeOnly(1),
				ConfigVariables:   password(first),
				ConfigPlanChecks:  tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: hidden(1),
			},
			{
				// Import cannot know that the configuration uses password_wo: it reads the
				// catalog's password into `password` (the next apply clears it, see the
				// Secrets guide).
				Config:                  writeOnly(1),
				ConfigVariables:         password(first),
				ResourceName:            addr,
				ImportState:             true,
				ImportStateId:           "europe/postgres",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"password", "password_wo_version"},
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d objects, want 1", len(states))
					}
					if v := states[0].Attributes["password_wo"]; v != "" {
						return fmt.Errorf("password_wo is %d characters after import, want null", len(v))
					}
					return nil
				},
			},
			{
				// The shard role's password rotates: the mapping fails until the version is
				// bumped with the new password, which updates it in place.
				PreConfig: func() {
					shard.Exec(t, fmt.Sprintf(`ALTER ROLE %s PASSWORD %s`, role, quoteLiteral(second)))
					err := whoami()
					if server := postgres.ServerErrorOf(err); server == nil || !containsFold(server.Detail, "password authentication failed") {
						t.Fatalf("the old password should no longer work on the shard, got %v", err)
					}
				},
				Config:            writeOnly(2),
				ConfigVariables:   password(second),
				ConfigPlanChecks:  planChecks(plancheck.ResourceActionUpdate),
				ConfigStateChecks: hidden(2),
				Check:             dbChecks(catalogPassword(second), whoami),
			},
			{
				// password_wo alone changed: Terraform sees no change, the mapping keeps its password.
				Config:            writeOnly(2),
				ConfigVariables:   password(unused),
				ConfigPlanChecks:  tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: hidden(2),
				Check:             dbChecks(catalogPassword(second), whoami),
			},
			{
				// The password dropped out of band: the plan sets it again.
				PreConfig: func() {
					base.Exec(t, `ALTER USER MAPPING FOR postgres SERVER europe OPTIONS (DROP password)`)
				},
				Config:            writeOnly(2),
				ConfigVariables:   password(second),
				ConfigPlanChecks:  planChecks(plancheck.ResourceActionUpdate),
				ConfigStateChecks: hidden(2),
				Check:             dbChecks(catalogPassword(second), whoami),
			},
			{
				// Another option changes; the write-only password stays as it is.
				Config:          writeOnly(2, `options = { sslpassword = "x" }`),
				ConfigVariables: password(unused),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: hidden(2),
				Check: dbChecks(
					base.ExpectQuery("password="+second+" | sslpassword=x | user="+role, mappingOptionsQuery, "europe", "postgres"),
					whoami),
			},
			{
				// To `password` (kept in state) and back to password_wo, in place.
				Config: hcl(fmt.Sprintf("password = %q", second)),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("password"), knownvalue.StringExact(second)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("password_wo_version"), knownvalue.Null()),
				},
				Check: dbChecks(catalogPassword(second), whoami),
			},
			{
				// (The prior state in this plan still holds `password`.)
				Config:          writeOnly(3),
				ConfigVariables: password(second),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), noSecretIn{secrets}},
				},
				ConfigStateChecks: hidden(3),
				Check:             dbChecks(catalogPassword(second), whoami),
			},
		},
	})
}

// Plan-time combinations: password and password_wo conflict, and password_wo and
// password_wo_version each need the other. No database is involved.
func TestUserMapping_WriteOnlyCombinations(t *testing.T) {
	for name, attrs := range map[string]string{
		"password and password_wo": `password = "a"
  password_wo = "b"
  password_wo_version = 1`,
		"password_wo without version": `password_wo = "b"`,
		"version without password_wo": `password_wo_version = 1`,
	} {
		t.Run(name, func(t *testing.T) {
			unitTest(t, tfresource.TestCase{Steps: []tfresource.TestStep{{
				Config: noConnectionProviderConfig(t) + `
resource "pgshard_user_mapping" "m" {
  server = "europe"
  ` + attrs + `
}`,
				PlanOnly:    true,
				ExpectError: expectError(`Invalid Attribute Combination`),
			}}})
		})
	}
}

// The provider's own error for password_wo on a CLI without write-only attributes names
// the attribute, the versions that support it and the alternative, and never the value.
func TestUserMapping_WriteOnlyNeedsNewCLI(t *testing.T) {
	ctx := t.Context()
	r, ok := NewUserMappingResource().(resource.ResourceWithValidateConfig)
	if !ok {
		t.Fatal("the user mapping resource does not validate its configuration")
	}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	objType := objectType(t, sr.Schema.Type())
	const secret = "s3cr3t-value"
	configWith := func(password tftypes.Value) tfsdk.Config {
		vals := map[string]tftypes.Value{}
		for name, typ := range objType.AttributeTypes {
			vals[name] = tftypes.NewValue(typ, nil)
		}
		vals["server"] = tftypes.NewValue(tftypes.String, "europe")
		vals["password_wo"] = password
		vals["password_wo_version"] = tftypes.NewValue(tftypes.Number, 1)
		return tfsdk.Config{Schema: sr.Schema, Raw: tftypes.NewValue(objType, vals)}
	}
	for _, tc := range []struct {
		name      string
		password  tftypes.Value
		supported bool
		wantError bool
	}{
		{"old CLI", tftypes.NewValue(tftypes.String, secret), false, true},
		{"old CLI, unknown value", tftypes.NewValue(tftypes.String, tftypes.UnknownValue), false, true},
		{"old CLI, no password_wo", tftypes.NewValue(tftypes.String, nil), false, false},
		{"CLI 1.11", tftypes.NewValue(tftypes.String, secret), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := resource.ValidateConfigRequest{Config: configWith(tc.password)}
			req.ClientCapabilities.WriteOnlyAttributesAllowed = tc.supported
			var resp resource.ValidateConfigResponse
			r.ValidateConfig(ctx, req, &resp)
			if got := resp.Diagnostics.HasError(); got != tc.wantError {
				t.Fatalf("error = %v, want %v: %v", got, tc.wantError, resp.Diagnostics)
			}
			for _, d := range resp.Diagnostics {
				text := d.Summary() + "\n" + d.Detail()
				for _, want := range []string{"password_wo", "Terraform 1.11 or later", "OpenTofu 1.11", "set `password` instead"} {
					if !strings.Contains(text, want) {
						t.Errorf("the error should say %q:\n%s", want, text)
					}
				}
				if strings.Contains(text, secret) {
					t.Errorf("the error holds the password:\n%s", text)
				}
			}
		})
	}
}

// With the real CLI and TF_LOG=TRACE, a write-only password (from an ephemeral variable)
// is in no command's output or log, in neither state file, in no saved plan nor its JSON,
// through a create and a rotation. On a CLI without write-only attributes the plan fails
// with the provider's error, also without the password.
func TestAccUserMapping_WriteOnlyNeverStored(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	first, second := `w0'=\pw-`+randomHex(t), `r0t'=\pw-`+randomHex(t)
	const role = "wo_never_stored"
	shard.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, role, quoteLiteral(first)))
	t.Cleanup(func() { shard.Exec(t, `DROP ROLE `+role) })

	writeOnlyCLI := cliSupportsWriteOnly(t)
	ephemeral := "ephemeral = true" // Terraform 1.10 and later
	if !writeOnlyCLI {
		ephemeral = ""
	}
	src := t.TempDir()
	mainTF := base.ProviderConfig() + fmt.Sprintf(`
variable "shard_password" {
  type      = string
  sensitive = true
  %s
}

variable "shard_password_version" {
  type = number
}

resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = %q
  port   = %d
  dbname = %q
}

resource "pgshard_user_mapping" "europe" {
  server              = pgshard_foreign_server.europe.name
  user                = %q
  password_wo         = var.shard_password
  password_wo_version = var.shard_password_version
}
`, ephemeral, shard.Cluster.Host, shard.Cluster.Port, shard.Name, role)
	if err := os.WriteFile(filepath.Join(src, "main.tf"), []byte(mainTF), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := postgrestest.NewWorkspace(t, src)
	tf := newTraceRunner(t, ws)
	useVars := func(password string, version int) {
		tf.env = append(tf.env, "TF_VAR_shard_password="+password, "TF_VAR_shard_password_version="+strconv.Itoa(version))
	}
	tf.must("init", "-no-color")
	useVars(first, 1)

	if !writeOnlyCLI {
		out, code := tf.run("plan", "-no-color")
		if code == 0 || !strings.Contains(out, "Write-Only Attribute Not Supported") || !strings.Contains(out, "password_wo") {
			t.Errorf("the plan should fail naming password_wo, got exit %d:\n%s", code, out)
		}
	} else {
		// Saved plans hold no ephemeral value: the apply of one is given the password again.
		tf.must("plan", "-no-color", "-out=create.tfplan")
		tf.must("show", "-json", "create.tfplan")
		tf.must("apply", "-no-color", "create.tfplan")
		catalogPassword := base.ExpectQuery("password="+first+" | user="+role, mappingOptionsQuery, "europe", "postgres")
		if err := catalogPassword(); err != nil {
			t.Error(err)
		}
		tf.must("show", "-json")

		shard.Exec(t, fmt.Sprintf(`ALTER ROLE %s PASSWORD %s`, role, quoteLiteral(second)))
		useVars(second, 2)
		tf.must("plan", "-no-color", "-out=rotate.tfplan")
		tf.must("show", "-json", "rotate.tfplan")
		tf.must("apply", "-no-color", "rotate.tfplan")
		if err := base.ExpectQuery("password="+second+" | user="+role, mappingOptionsQuery, "europe", "postgres")(); err != nil {
			t.Error(err)
		}
		if out, code := tf.run("plan", "-no-color", "-detailed-exitcode"); code != 0 {
			t.Errorf("the plan after the rotation should be empty (exit 0), got exit %d:\n%s", code, out)
		}
		tf.must("destroy", "-auto-approve", "-no-color")
	}

	for _, want := range []string{"terraform-provider-pgshard", "ValidateResourceConfig", "@module=sdk.framework"} {
		if !strings.Contains(tf.logs(), want) {
			t.Errorf("the TRACE logs should mention %q; is TF_LOG=TRACE honoured?", want)
		}
	}
	places := map[string]string{}
	for i, r := range tf.history {
		places[fmt.Sprintf("output of #%d terraform %s", i+1, r.args)] = r.out
		places[fmt.Sprintf("TRACE log of #%d terraform %s", i+1, r.args)] = r.log
	}
	if writeOnlyCLI {
		for _, name := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
			b, err := os.ReadFile(filepath.Join(ws.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			places[name] = string(b)
		}
		// A saved plan is a zip archive (compressed): search each file in it.
		for _, name := range []string{"create.tfplan", "rotate.tfplan"} {
			for member, text := range zipContents(t, filepath.Join(ws.Dir, name)) {
				places[name+": "+member] = text
			}
		}
	}
	for where, text := range places {
		for _, secret := range []string{first, second} {
			if hits := occurrences(text, secretCore(secret)); len(hits) > 0 {
				t.Errorf("a write-only password leaks in the %s (%d times):\n%s", where, len(hits), strings.Join(hits, "\n---\n"))
			}
		}
	}
}

// noSecretIn fails when a plan or state, as `terraform show -json` prints it, holds any
// of the passwords (by their random part, so that no escaping hides one).
type noSecretIn struct{ secrets []string }

func (c noSecretIn) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = c.check("plan", req.Plan)
}

func (c noSecretIn) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c.check("state", req.State)
}

func (c noSecretIn) check(what string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	for _, s := range c.secrets {
		if i := strings.Index(string(b), secretCore(s)); i >= 0 {
			around := strings.ReplaceAll(string(b[max(0, i-300):min(len(b), i+100)]), secretCore(s), "<password>")
			return fmt.Errorf("the %s holds a write-only password: …%s…", what, around)
		}
	}
	return nil
}

// zipContents returns the uncompressed text of every file in a zip archive.
func zipContents(t *testing.T, path string) map[string]string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	out := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = string(b)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no files", path)
	}
	return out
}

// cliSupportsWriteOnly reports whether the Terraform CLI the tests use supports write-only
// attributes (1.11 or later).
func cliSupportsWriteOnly(t *testing.T) bool {
	t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = postgrestest.TerraformPath(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(tf, "version", "-json").Output()
	if err != nil {
		t.Fatalf("%s version -json: %v", tf, err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s version -json: %v", tf, err)
	}
	parts := strings.SplitN(v.Version, ".", 3)
	major, err1 := strconv.Atoi(parts[0])
	minor := 0
	var err2 error
	if len(parts) > 1 {
		minor, err2 = strconv.Atoi(parts[1])
	}
	if err1 != nil || err2 != nil {
		t.Fatalf("cannot parse Terraform version %q", v.Version)
	}
	return major > 1 || major == 1 && minor >= 11
}
