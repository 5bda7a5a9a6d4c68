package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
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

// objectOf builds a value of the resource's schema: the attributes given (string, bool,
// int64, []string), every other one null; nil attrs is a null object (no state, no plan).
func objectOf(t *testing.T, r resource.Resource, attrs map[string]any) (tfsdk.State, tfsdk.Plan) {
	t.Helper()
	ctx := context.Background()
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	raw := tftypes.NewValue(typ, nil)
	if attrs != nil {
		vals := map[string]tftypes.Value{}
		for name, at := range typ.AttributeTypes {
			v, ok := attrs[name]
			if !ok {
				vals[name] = tftypes.NewValue(at, nil)
				continue
			}
			switch v := v.(type) {
			case []string:
				elems := make([]tftypes.Value, len(v))
				for i, s := range v {
					elems[i] = tftypes.NewValue(tftypes.String, s)
				}
				vals[name] = tftypes.NewValue(at, elems)
			case int64:
				vals[name] = tftypes.NewValue(at, v)
			default:
				vals[name] = tftypes.NewValue(at, v)
			}
		}
		for name := range attrs {
			if _, ok := typ.AttributeTypes[name]; !ok {
				t.Fatalf("no attribute %q", name)
			}
		}
		raw = tftypes.NewValue(typ, vals)
	}
	return tfsdk.State{Schema: sr.Schema, Raw: raw}, tfsdk.Plan{Schema: sr.Schema, Raw: raw}
}

// modifyPlan runs the resource's ModifyPlan for prior state and plan (nil: none, as for a
// create or a destroy) and returns its diagnostics.
func modifyPlan(t *testing.T, r resource.ResourceWithModifyPlan, state, plan map[string]any) diag.Diagnostics {
	t.Helper()
	st, _ := objectOf(t, r, state)
	_, pl := objectOf(t, r, plan)
	cfg := tfsdk.Config{Schema: pl.Schema, Raw: pl.Raw}
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
