package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*tableResource)(nil)
	_ resource.ResourceWithImportState    = (*tableResource)(nil)
	_ resource.ResourceWithValidateConfig = (*tableResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*tableResource)(nil)
)

// NewTableResource returns the pgshard_table resource.
func NewTableResource() resource.Resource { return &tableResource{} }

type tableResource struct{ client *Client }

func (r *tableResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_table"
}

func (r *tableResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A plain table, typically a shard's table managed through a provider alias pointed at the shard's " +
			"database. Columns and the primary key change in place. Destroy refuses while the table holds rows unless `force_destroy = true`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`schema.name`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{tableIDFromName{}},
			},
			"schema": schema.StringAttribute{
				MarkdownDescription: "Schema. Default `public`. Changed in place (`ALTER TABLE ... SET SCHEMA`), with its rows.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("public"),
				Validators:          []validator.String{identifier{}},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Table name (at most 63 bytes). Changed in place (`ALTER TABLE ... RENAME TO`), with its rows.",
				Required:            true,
				Validators:          []validator.String{identifier{}},
			},
			"columns": columnsAttribute(),
			"primary_key": schema.ListAttribute{
				MarkdownDescription: "Primary key columns, in order. Changed in place.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()},
			},
			"force_destroy": schema.BoolAttribute{
				MarkdownDescription: "Drop the table on destroy even while it holds rows (they are lost). Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
		},
	}
}

func (r *tableResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *tableResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m tableModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Columns.IsUnknown() || m.PrimaryKey.IsUnknown() {
		return
	}
	cols, d := columnsFromList(ctx, m.Columns)
	if d.HasError() {
		return
	}
	names := columnNames(cols)
	for i, k := range stringList(ctx, m.PrimaryKey, &resp.Diagnostics) {
		if !names[k] {
			resp.Diagnostics.AddAttributeError(path.Root("primary_key").AtListIndex(i), "Invalid Primary Key",
				fmt.Sprintf("The primary key column %q names no column of the table. Use one of the columns.", k))
		}
	}
}

func (r *tableResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Table", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *tableModelV0, diags *diag.Diagnostics) (string, error) {
		t := plan.toTable(ctx, diags)
		if diags.HasError() {
			return "", nil
		}
		return tablePhrase("table", t.Schema, t.Name), postgres.CreateTable(ctx, db, t)
	})
}

func (r *tableResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

func (r *tableResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Table", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, prior *tableModelV0, diags *diag.Diagnostics) (string, error) {
		to := plan.toTable(ctx, diags)
		// A rename the last apply made is never made again (its renamed_from stays in state).
		to.Columns = withoutAppliedRenames(to.Columns, columnModels(ctx, prior.Columns, diags))
		if diags.HasError() {
			return "", nil
		}
		return tablePhrase("table", to.Schema, to.Name), postgres.AlterTable(ctx, db, prior.Schema.ValueString(), prior.Name.ValueString(), to, plan.ForceDestroy.ValueBool())
	})
}

// ModifyPlan shows what an update does to the columns' values, and refuses while planning
// a destroy of a table that holds rows (unless force_destroy).
func (r *tableResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		if !req.Plan.Raw.IsNull() {
			planColumnChanges(ctx, r.client, "Table", req, resp, "", "", types.BoolNull())
			planTaintedTable(ctx, r.client, "Table", req.Plan, &resp.Diagnostics)
		}
		return
	}
	var state tableModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if req.Plan.Raw.IsNull() {
		refuseDestroyAtPlan(ctx, r.client, "Table", "Destroy", state.Schema.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool(), &resp.Diagnostics)
		return
	}
	var force types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("force_destroy"), &force)...)
	planColumnChanges(ctx, r.client, "Table", req, resp, state.Schema.ValueString(), state.Name.ValueString(), force)
}

func (r *tableResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state tableModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	deleteTable(ctx, r.client, "Table", state.Schema.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool(), &resp.Diagnostics)
}

func (r *tableResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importTableID(ctx, req, resp, "table")
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("force_destroy"), false)...)
}

func (r *tableResource) readInto(ctx context.Context, m *tableModelV0, diags *diag.Diagnostics, action string) bool {
	schemaName, name := m.Schema.ValueString(), m.Name.ValueString()
	t, ok := readTable(ctx, r.client, "Table", schemaName, name, action, diags)
	if !ok {
		return false
	}
	if t.Kind != postgres.RelTable || t.IsPartition {
		diags.AddError("Table "+action+" Error",
			fmt.Sprintf("%s.%s in database %q is not a plain table. Manage it with the resource for its kind (pgshard_partitioned_table, pgshard_partition, pgshard_foreign_partition).", schemaName, name, r.client.Database()))
		return false
	}
	m.ID = types.StringValue(tableID(schemaName, name))
	implied := map[string]bool{}
	for _, k := range t.PrimaryKey {
		implied[k] = true
	}
	var d diag.Diagnostics
	m.Columns, d = columnsToList(ctx, t.Columns, m.Columns, priorInServerForm(ctx, r.client, t.Columns, m.Columns), implied)
	diags.Append(d...)
	m.PrimaryKey = types.ListNull(types.StringType)
	if len(t.PrimaryKey) > 0 {
		m.PrimaryKey, d = types.ListValueFrom(ctx, types.StringType, t.PrimaryKey)
		diags.Append(d...)
	}
	return !diags.HasError()
}

type tableModelV0 struct {
	ID           types.String `tfsdk:"id"`
	Schema       types.String `tfsdk:"schema"`
	Name         types.String `tfsdk:"name"`
	Columns      types.List   `tfsdk:"columns"`
	PrimaryKey   types.List   `tfsdk:"primary_key"`
	ForceDestroy types.Bool   `tfsdk:"force_destroy"`
}

func (m tableModelV0) toTable(ctx context.Context, diags *diag.Diagnostics) postgres.Table {
	cols, d := columnsFromList(ctx, m.Columns)
	diags.Append(d...)
	pk := stringList(ctx, m.PrimaryKey, diags)
	return postgres.Table{Schema: m.Schema.ValueString(), Name: m.Name.ValueString(), Columns: cols, PrimaryKey: slices.Clip(pk)}
}
