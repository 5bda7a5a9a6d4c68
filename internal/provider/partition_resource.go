package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*partitionResource)(nil)
	_ resource.ResourceWithImportState    = (*partitionResource)(nil)
	_ resource.ResourceWithValidateConfig = (*partitionResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*partitionResource)(nil)
)

// NewPartitionResource returns the pgshard_partition resource.
func NewPartitionResource() resource.Resource { return &partitionResource{} }

type partitionResource struct{ client *Client }

func (r *partitionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_partition"
}

func (r *partitionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := partitionAttributes()
	attrs["force_destroy"] = schema.BoolAttribute{
		MarkdownDescription: "Drop the partition on destroy even while it holds rows (they are lost). Default `false`.",
		Optional:            true,
		Computed:            true,
		Default:             booldefault.StaticBool(false),
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A local partition of a partitioned table (`CREATE TABLE ... PARTITION OF ...`), typically the DEFAULT " +
			"partition that catches rows no shard takes. A bound change is made in place: detach and re-attach with the new bound " +
			"in one transaction (PostgreSQL checks the rows against it). Destroy refuses while the partition holds rows unless `force_destroy = true`.",
		Attributes: attrs,
	}
}

func (r *partitionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *partitionResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m partitionModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if !resp.Diagnostics.HasError() {
		validateBound(m.boundModel, &resp.Diagnostics)
	}
	validateMove(ctx, req.Config, &resp.Diagnostics)
}

func (r *partitionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Partition", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *partitionModelV0, diags *diag.Diagnostics) (string, error) {
		p := plan.toPartition(ctx, diags)
		if diags.HasError() {
			return "", nil
		}
		parent, inDefault := partitionTarget(ctx, r.client, "Partition", p, plan.MoveRowsFromDefault.ValueBool(), diags)
		if parent == nil {
			return "", nil
		}
		return tablePhrase("partition", p.Schema, p.Name), postgres.CreateLocalPartition(ctx, db, p, parent, inDefault > 0)
	})
}

func (r *partitionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, func(ctx context.Context, m *partitionModelV0, diags *diag.Diagnostics, action string) bool {
		if !r.readInto(ctx, m, diags, action) {
			return false
		}
		if m.Parent.ValueString() != "" {
			undoAbandonedMove(ctx, r.client, m.Schema.ValueString(), m.Name.ValueString(), false, diags)
		}
		return !diags.HasError()
	})
}

func (r *partitionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Partition", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, prior *partitionModelV0, diags *diag.Diagnostics) (string, error) {
		to := plan.toPartition(ctx, diags)
		if diags.HasError() {
			return "", nil
		}
		what := tablePhrase("partition", to.Schema, to.Name)
		_, err := updateMovingRows(ctx, db, prior.Schema.ValueString(), prior.Name.ValueString(), to, plan.OnRowsOutsideBound.ValueString(),
			plan.MoveRowsFromDefault.ValueBool(), false, func(first postgres.Partition) error {
				return postgres.UpdateLocalPartition(ctx, db, prior.Schema.ValueString(), prior.Name.ValueString(), first)
			})
		return what, err
	})
}

// ModifyPlan says how many rows a bound update moves, and refuses, while planning, what
// would lose rows or stop halfway: a destroy of a partition holding rows (unless
// force_destroy), a bound that leaves rows outside without move_to_default.
func (r *partitionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		if !req.Plan.Raw.IsNull() {
			planCreate(ctx, r.client, "Partition", req.Plan, &resp.Diagnostics)
		}
		return
	}
	var state partitionModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	schemaName, name := state.Schema.ValueString(), state.Name.ValueString()
	if req.Plan.Raw.IsNull() {
		moves := state.OnRowsOutsideBound.ValueString() == moveToDefault
		planDestroyRows(ctx, r.client, "Partition", schemaName, name, state.Parent.ValueString(), state.IsDefault.ValueBool(), moves, &resp.Diagnostics)
		if !moves {
			refuseDestroyAtPlan(ctx, r.client, "Partition", "Destroy", schemaName, name, state.ForceDestroy.ValueBool(), &resp.Diagnostics)
		}
		return
	}
	var plan partitionModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !plan.boundKnown() || plan.Parent.IsUnknown() {
		return
	}
	keepBoundSpelling(ctx, r.client, plan.Parent.ValueString(), &plan.boundModel, state.boundModel, &resp.Plan, &resp.Diagnostics)
	to := plan.toPartition(ctx, &resp.Diagnostics)
	planRowMoves(ctx, r.client, "Partition", schemaName, name, to, plan.OnRowsOutsideBound.ValueString(), plan.MoveRowsFromDefault.ValueBool(), &resp.Diagnostics)
}

func (r *partitionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state partitionModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.OnRowsOutsideBound.ValueString() == moveToDefault {
		if err := deleteMovingRows(ctx, r.client, state.Schema.ValueString(), state.Name.ValueString(), false); err != nil {
			addObjectError(&resp.Diagnostics, "Partition", "Delete", tablePhrase("partition", state.Schema.ValueString(), state.Name.ValueString()), r.client.Database(), err)
			return
		}
	}
	deleteTable(ctx, r.client, "Partition", state.Schema.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool(), &resp.Diagnostics)
}

func (r *partitionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importTableID(ctx, req, resp, "partition")
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("force_destroy"), false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("move_rows_from_default"), false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("on_rows_outside_bound"), moveFail)...)
}

func (r *partitionResource) readInto(ctx context.Context, m *partitionModelV0, diags *diag.Diagnostics, action string) bool {
	schemaName, name := m.Schema.ValueString(), m.Name.ValueString()
	p, ok := readObject(ctx, r.client, "Partition", tablePhrase("partition", schemaName, name), action, diags, func(ctx context.Context, db *postgres.DB) (*postgres.Partition, error) {
		return postgres.ReadPartition(ctx, db, schemaName, name)
	})
	if !ok {
		return false
	}
	if p.Foreign {
		diags.AddError("Partition "+action+" Error", fmt.Sprintf("%s.%s in database %q is a foreign table. Manage it with pgshard_foreign_partition.", schemaName, name, r.client.Database()))
		return false
	}
	m.ID = types.StringValue(tableID(schemaName, name))
	m.Parent = parentValue(m.Parent, p.ParentSchema, p.ParentName)
	if p.ParentName != "" {
		m.readBound(ctx, r.client, p.ParentSchema, p.ParentName, p.Bound, diags)
	}
	return !diags.HasError()
}

type partitionModelV0 struct {
	ID                  types.String `tfsdk:"id"`
	Parent              types.String `tfsdk:"parent"`
	Schema              types.String `tfsdk:"schema"`
	Name                types.String `tfsdk:"name"`
	ForceDestroy        types.Bool   `tfsdk:"force_destroy"`
	MoveRowsFromDefault types.Bool   `tfsdk:"move_rows_from_default"`
	OnRowsOutsideBound  types.String `tfsdk:"on_rows_outside_bound"`
	boundModel
}

func (m partitionModelV0) toPartition(ctx context.Context, diags *diag.Diagnostics) postgres.Partition {
	parentSchema, parentName, _ := parseTableID(m.Parent.ValueString())
	return postgres.Partition{Schema: m.Schema.ValueString(), Name: m.Name.ValueString(), ParentSchema: parentSchema, ParentName: parentName,
		Bound: m.toBound(ctx, diags)}
}
