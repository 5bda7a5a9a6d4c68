package provider

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// The libpq environment variables fill in what the provider block leaves out.
func TestProviderConfigure_Environment(t *testing.T) {
	env := map[string]string{"PGHOST": "db.internal", "PGPORT": "6543", "PGDATABASE": "tweets", "PGUSER": "app",
		"PGPASSWORD": "s3cret", "PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "7"}
	p := &pgshardProvider{getenv: func(k string) string { return env[k] }}
	client := configure(t, p, map[string]tftypes.Value{"database": tftypes.NewValue(tftypes.String, "override")})
	c := client.conn
	if c.Host != "db.internal" || c.Port != 6543 || c.Database != "override" || c.User != "app" || c.Password != "s3cret" ||
		c.SSLMode != "require" || c.ConnectTimeout != 7*time.Second || c.MaxConnections != 8 || !client.Known() {
		t.Fatalf("resolved %+v", c)
	}

	empty := &pgshardProvider{getenv: func(string) string { return "" }}
	c = configure(t, empty, nil).conn
	if c.Host != "localhost" || c.Port != 5432 || c.Database != "postgres" || c.User != "postgres" || c.ConnectTimeout != 30*time.Second {
		t.Fatalf("defaults %+v", c)
	}
}

// Unknown values (from resources not yet created) mark the client unknown instead of failing.
func TestProviderConfigure_Unknown(t *testing.T) {
	p := &pgshardProvider{getenv: func(string) string { return "" }}
	client := configure(t, p, map[string]tftypes.Value{"port": tftypes.NewValue(tftypes.Number, tftypes.UnknownValue)})
	if client.Known() {
		t.Fatal("client with an unknown port should not be known")
	}
	if _, err := client.DB(); err == nil {
		t.Fatal("DB() should refuse while settings are unknown")
	}
}

func configure(t *testing.T, p provider.Provider, values map[string]tftypes.Value) *Client {
	t.Helper()
	ctx := t.Context()
	var sresp provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &sresp)
	typ := objectType(t, sresp.Schema.Type())
	all := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		all[name] = tftypes.NewValue(at, nil)
	}
	for k, v := range values {
		all[k] = v
	}
	req := provider.ConfigureRequest{Config: tfsdk.Config{Schema: sresp.Schema, Raw: tftypes.NewValue(typ, all)}}
	var resp provider.ConfigureResponse
	p.Configure(ctx, req, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("configure: %v", resp.Diagnostics)
	}
	client, ok := resp.ResourceData.(*Client)
	if !ok {
		t.Fatalf("configure: resource data %T, want *Client", resp.ResourceData)
	}
	return client
}

// objectType is the Terraform type of a schema, an object.
func objectType(t *testing.T, schemaType attr.Type) tftypes.Object {
	t.Helper()
	typ, ok := schemaType.TerraformType(t.Context()).(tftypes.Object)
	if !ok {
		t.Fatalf("schema type %s is not an object", schemaType)
	}
	return typ
}

// Planning a create never connects: the database server may come in the same plan (a
// container), so a provider pointed at a port with no database behind it still plans every
// resource type, each with the attributes that read the catalog at plan where it can (a
// bound over DEFAULT, a parent's time key, tiers), and the port sees no connection attempt.
func TestProvider_PlansWithoutConnecting(t *testing.T) {
	config := noConnectionProviderConfig(t) + `
resource "pgshard_extension" "fdw" { name = "postgres_fdw" }
resource "pgshard_foreign_server" "s" { name = "s" }
resource "pgshard_foreign_server" "archive" { name = "archive" }
resource "pgshard_user_mapping" "m" { server = pgshard_foreign_server.s.name }
resource "pgshard_foreign_server_usage" "u" {
  server = pgshard_foreign_server.s.name
  role   = "PUBLIC"
}
resource "pgshard_partitioned_table" "t" {
  name = "t"
  columns = [
    { name = "id", type = "bigint", not_null = true },
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamptz", not_null = true },
  ]
  partition_by = { strategy = "list", key = ["location"] }
}
resource "pgshard_partition" "d" {
  parent     = pgshard_partitioned_table.t.id
  name       = "t_default"
  is_default = true
}
resource "pgshard_foreign_partition" "usa" {
  parent                 = pgshard_partitioned_table.t.id
  name                   = "t_usa"
  server                 = pgshard_foreign_server.s.name
  values_in              = ["usa"]
  create_remote_table    = true
  remote_identity        = { column = "id", start = 1000, increment = 1 }
  move_rows_from_default = true
}
resource "pgshard_partitioned_table" "europe" {
  parent       = pgshard_partitioned_table.t.id
  name         = "t_europe"
  values_in    = ["europe"]
  partition_by = { strategy = "range", key = ["created_at"] }
}
resource "pgshard_time_partitions" "europe" {
  parent          = pgshard_partitioned_table.europe.id
  interval        = "1 month"
  server          = pgshard_foreign_server.s.name
  remote_parent   = "t_europe"
  remote_identity = { column = "id", start = 2000, increment = 1 }
  tiers           = [{ after = "3 months", server = pgshard_foreign_server.archive.name }]
  retention       = { after = "12 months", action = "detach" }
}
resource "pgshard_table" "plain" {
  name    = "plain"
  columns = [{ name = "id", type = "bigint" }]
}
resource "pgshard_foreign_schema_import" "i" {
  server        = pgshard_foreign_server.s.name
  remote_schema = "public"
  local_schema  = "imported"
}
resource "pgshard_settings" "planner" {
  database = "tweets"
  settings = { enable_partitionwise_aggregate = "on", enable_partitionwise_join = "on" }
}
`
	// A resource type added to the provider is planned here too.
	for _, typ := range resourceTypeNames(t) {
		if !strings.Contains(config, `resource "`+typ+`"`) {
			t.Errorf("the configuration plans no %s: add one", typ)
		}
	}
	unitTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:             config,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
}

// The provider's connection settings may come from a resource created in the same apply,
// as they do when the database is a container: plan with unknown values, connect at apply.
func TestAccProvider_ConfiguredFromResource(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	config := fmt.Sprintf(`
resource "terraform_data" "db" {
  input = { host = %q, port = %d }
}

provider "pgshard" {
  host     = terraform_data.db.output.host
  port     = terraform_data.db.output.port
  database = %q
  username = %q
  password = %q
  sslmode  = "disable"
}

resource "pgshard_foreign_server" "s" {
  name = "from_resource"
}
`, a.Cluster.Host, a.Cluster.Port, a.Name, a.Cluster.User, a.Cluster.Password)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_foreign_server.s", plancheck.ResourceActionCreate)},
			},
			Check: dbChecks(a.ExpectQuery("from_resource", `SELECT srvname FROM pg_foreign_server`)),
		}},
	})
}

// resourceTypeNames are the provider's resource types (pgshard_...).
func resourceTypeNames(t *testing.T) []string {
	var types []string
	for _, r := range New("test")().Resources(t.Context()) {
		var resp fwresource.MetadataResponse
		r().Metadata(t.Context(), fwresource.MetadataRequest{ProviderTypeName: "pgshard"}, &resp)
		types = append(types, resp.TypeName)
	}
	return types
}
