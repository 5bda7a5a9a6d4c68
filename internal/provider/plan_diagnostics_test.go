package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// The warnings a plan shows cannot be read through terraform-plugin-testing, so these tests
// call the resources' ModifyPlan and Read as Terraform does, against a real database, and
// read the diagnostics they return.

// planClient is a provider client for database a whose pool has connected, as it has when
// the plan's refresh has read something.
func planClient(t *testing.T, a *accDatabase) *Client {
	t.Helper()
	c := &Client{pools: postgres.NewPools(), conn: postgres.ConnConfig{
		Host: a.Cluster.Host, Port: a.Cluster.Port, Database: a.Name, User: a.Cluster.User, Password: a.Cluster.Password, SSLMode: "disable",
	}.WithDefaults()}
	t.Cleanup(func() { _ = c.pools.Close() })
	db, err := c.DB()
	if err == nil {
		err = db.PingContext(t.Context())
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// objectOf builds a value of the resource's schema (see objectValue); nil attrs is a null
// object (no state, no plan).
func objectOf(t *testing.T, r resource.Resource, attrs map[string]any) (tfsdk.State, tfsdk.Plan) {
	t.Helper()
	ctx := t.Context()
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	typ, ok := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatalf("the schema's type is %T, not an object", sr.Schema.Type().TerraformType(ctx))
	}
	raw := objectValue(t, typ, attrs)
	return tfsdk.State{Schema: sr.Schema, Raw: raw}, tfsdk.Plan{Schema: sr.Schema, Raw: raw}
}

// objectValue builds an object of typ with the attributes given (string, bool, int64,
// []string), every other one null; nil attrs is a null object.
func objectValue(t *testing.T, typ tftypes.Object, attrs map[string]any) tftypes.Value {
	t.Helper()
	if attrs == nil {
		return tftypes.NewValue(typ, nil)
	}
	for name := range attrs {
		if _, ok := typ.AttributeTypes[name]; !ok {
			t.Fatalf("no attribute %q", name)
		}
	}
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		switch v := attrs[name].(type) {
		case nil:
			vals[name] = tftypes.NewValue(at, nil)
		case []string:
			elems := make([]tftypes.Value, len(v))
			for i, s := range v {
				elems[i] = tftypes.NewValue(tftypes.String, s)
			}
			vals[name] = tftypes.NewValue(at, elems)
		case int:
			vals[name] = tftypes.NewValue(at, int64(v))
		default:
			vals[name] = tftypes.NewValue(at, v)
		}
	}
	return tftypes.NewValue(typ, vals)
}

// modifyPlan runs the resource's ModifyPlan for prior state and plan (nil: none, as for a
// create or a destroy) and returns its diagnostics.
func modifyPlan(t *testing.T, r resource.ResourceWithModifyPlan, state, plan map[string]any) diag.Diagnostics {
	t.Helper()
	st, _ := objectOf(t, r, state)
	_, pl := objectOf(t, r, plan)
	cfg := tfsdk.Config(pl)
	resp := resource.ModifyPlanResponse{Plan: pl}
	r.ModifyPlan(t.Context(), resource.ModifyPlanRequest{State: st, Plan: pl, Config: cfg}, &resp)
	return resp.Diagnostics
}

// diagnosticsText renders diagnostics as Terraform prints them, one per paragraph.
func diagnosticsText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s\n%s\n\n", d.Severity(), d.Summary(), d.Detail())
	}
	return b.String()
}

// expectDiagnostic fails unless one diagnostic of the severity has the summary and a detail
// holding every want.
func expectDiagnostic(t *testing.T, diags diag.Diagnostics, severity diag.Severity, summary string, want ...string) {
	t.Helper()
	for _, d := range diags {
		if d.Severity() != severity || d.Summary() != summary {
			continue
		}
		for _, w := range want {
			if !strings.Contains(d.Detail(), w) {
				t.Errorf("%s %q lacks %q:\n%s", severity, summary, w, d.Detail())
			}
		}
		return
	}
	t.Errorf("no %s %q among:\n%s", severity, summary, diagnosticsText(diags))
}

// A destroy with force_destroy = true shows, in the plan, the rows it drops: the
// partitioned table's DEFAULT partition's, and a local partition's own; a destroy that drops
// nothing says nothing.
func TestAccPlan_ForceDestroyShowsRowsDropped(t *testing.T) {
	base := newAccDatabase(t, nil)
	for _, stmt := range []string{
		`CREATE TABLE tweets (id bigint, location text) PARTITION BY LIST (location)`,
		`CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`,
		`CREATE TABLE tweets_eu PARTITION OF tweets FOR VALUES IN ('europe')`,
		`INSERT INTO tweets VALUES (1, 'asia'), (2, 'asia'), (3, 'europe')`,
	} {
		base.Exec(t, stmt)
	}
	client := planClient(t, base)
	parent := &partitionedTableResource{client: client}
	state := map[string]any{"id": "public.tweets", "schema": "public", "name": "tweets", "force_destroy": true}
	diags := modifyPlan(t, parent, state, nil)
	expectDiagnostic(t, diags, diag.SeverityWarning, "Partitioned Table Destroy Drops Rows",
		"public.tweets_default (2 rows)", "public.tweets_eu (1 rows)", "force_destroy = true")
	if diags.HasError() {
		t.Errorf("force_destroy allows the destroy:\n%s", diagnosticsText(diags))
	}

	part := &partitionResource{client: client}
	state = map[string]any{"id": "public.tweets_default", "parent": "public.tweets", "schema": "public", "name": "tweets_default",
		"is_default": true, "force_destroy": true, "on_rows_outside_bound": moveFail}
	expectDiagnostic(t, modifyPlan(t, part, state, nil), diag.SeverityWarning, "Partition Destroy Drops Rows", "public.tweets_default (2 rows)")

	base.Exec(t, `DELETE FROM tweets`)
	if diags := modifyPlan(t, parent, map[string]any{"id": "public.tweets", "schema": "public", "name": "tweets", "force_destroy": true}, nil); len(diags) > 0 {
		t.Errorf("a destroy that drops no rows warns:\n%s", diagnosticsText(diags))
	}
}

// shardServer makes foreign server "europe" (with the connecting role's mapping) in base,
// for shard.
func shardServer(t *testing.T, base, shard *accDatabase) {
	t.Helper()
	base.Exec(t, fmt.Sprintf(`CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`,
		quoteLiteral(shard.Cluster.Host), shard.Cluster.Port, quoteLiteral(shard.Name)))
	base.Exec(t, fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER europe OPTIONS (user %s, password %s)`,
		quoteLiteral(shard.Cluster.User), quoteLiteral(shard.Cluster.Password)))
}

// The plan of a foreign partition over a shard table that already holds rows names the
// parent's sequence it sets past their largest id, read on the shard while planning.
func TestAccPlan_ForeignPartitionNamesSequenceSetPastAdoptedIds(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	shardServer(t, base, shard)
	base.Exec(t, `CREATE TABLE tweets (id bigserial, location text NOT NULL, body text) PARTITION BY LIST (location)`)
	base.Exec(t, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	shard.Exec(t, `CREATE TABLE europe_tweets (id bigint, location text NOT NULL, body text)`)
	shard.Exec(t, `INSERT INTO europe_tweets VALUES (7, 'europe', 'a'), (41, 'europe', 'b')`)
	r := &foreignPartitionResource{client: planClient(t, base)}
	plan := map[string]any{"parent": "public.tweets", "schema": "public", "name": "europe_tweets", "server": "europe", "remote_schema": "public",
		"remote_table": "europe_tweets", "values_in": []string{"europe"}, "create_remote_table": true, "move_rows_from_default": false, "on_rows_outside_bound": moveFail}
	diags := modifyPlan(t, r, nil, plan)
	expectDiagnostic(t, diags, diag.SeverityWarning, "Sequences Move Past Adopted Ids",
		`shard table public.europe_tweets on server "europe"`, `sequence public.tweets_id_seq (column "id"): set past 41, so the next id is 42 or above`)
	if diags.HasError() {
		t.Errorf("the create is allowed:\n%s", diagnosticsText(diags))
	}

	// Once the sequence is past them, the plan says nothing.
	base.Exec(t, `SELECT setval('tweets_id_seq', 100)`)
	if diags := modifyPlan(t, r, nil, plan); len(diags) > 0 {
		t.Errorf("nothing to advance, yet:\n%s", diagnosticsText(diags))
	}
}

// protoServer is the provider served as Terraform sees it, configured for database a.
func protoServer(t *testing.T, a *accDatabase) (tfprotov6.ProviderServer, *tfprotov6.GetProviderSchemaResponse) {
	t.Helper()
	ctx := t.Context()
	server, err := testAccProtoV6ProviderFactories["pgshard"]()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ, ok := schemas.Provider.ValueType().(tftypes.Object)
	if !ok {
		t.Fatal("the provider schema's type is not an object")
	}
	config, err := tfprotov6.NewDynamicValue(typ, objectValue(t, typ, map[string]any{
		"host": a.Cluster.Host, "port": a.Cluster.Port, "database": a.Name, "username": a.Cluster.User, "password": a.Cluster.Password, "sslmode": "disable",
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.11.4", Config: &config})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %+v", err, resp.Diagnostics)
	}
	return server, schemas
}

// A foreign partition detached out of band reads as detached: the refresh says so (and that
// the apply attaches it again) and checks its shard table against the parent it goes back
// to, instead of warning that the shard table was "not found" for drift.
func TestAccRead_DetachedForeignPartitionSaysDetached(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	shardServer(t, base, shard)
	base.Exec(t, `CREATE TABLE tweets (id bigint, location text NOT NULL, body text) PARTITION BY LIST (location)`)
	shard.Exec(t, `CREATE TABLE europe_tweets (id bigint, location text NOT NULL, body text, CONSTRAINT europe_tweets_bound CHECK (location = 'europe'))`)
	base.Exec(t, `CREATE FOREIGN TABLE europe_tweets PARTITION OF tweets FOR VALUES IN ('europe') SERVER europe OPTIONS (schema_name 'public', table_name 'europe_tweets')`)
	base.Exec(t, `ALTER TABLE tweets DETACH PARTITION europe_tweets`)
	shard.Exec(t, `ALTER TABLE europe_tweets DROP COLUMN body`)

	server, schemas := protoServer(t, base)
	typ, ok := schemas.ResourceSchemas["pgshard_foreign_partition"].ValueType().(tftypes.Object)
	if !ok {
		t.Fatal("the foreign partition schema's type is not an object")
	}
	state, err := tfprotov6.NewDynamicValue(typ, objectValue(t, typ, map[string]any{
		"id": "public.europe_tweets", "parent": "public.tweets", "schema": "public", "name": "europe_tweets", "server": "europe", "remote_schema": "public",
		"remote_table": "europe_tweets", "values_in": []string{"europe"}, "create_remote_table": true, "move_rows_from_default": false,
		"on_rows_outside_bound": moveFail, "remote_drift": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.ReadResource(t.Context(), &tfprotov6.ReadResourceRequest{TypeName: "pgshard_foreign_partition", CurrentState: &state})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, d := range resp.Diagnostics {
		fmt.Fprintf(&text, "%s\n%s\n", d.Summary, d.Detail)
	}
	got := text.String()
	for _, want := range []string{"Foreign Partition Detached", "was detached out of band", "The plan attaches it again"} {
		if !strings.Contains(got, want) {
			t.Errorf("the refresh says\n%s\nwant %q", got, want)
		}
	}
	if strings.Contains(got, "not found") || strings.Contains(got, "Shard Table Not Checked") {
		t.Errorf("the refresh says the shard table was not checked:\n%s", got)
	}
	newState, err := resp.NewState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	var attrs map[string]tftypes.Value
	var drift, parent string
	if err := newState.As(&attrs); err != nil || attrs["remote_drift"].As(&drift) != nil || attrs["parent"].As(&parent) != nil {
		t.Fatal(err)
	}
	if parent != "" || !strings.Contains(drift, `"body"`) {
		t.Errorf("parent %q (want \"\": detached), remote_drift %q (want the shard's missing column body)", parent, drift)
	}
}
