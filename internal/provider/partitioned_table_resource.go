package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*partitionedTableResource)(nil)
	_ resource.ResourceWithImportState    = (*partitionedTableResource)(nil)
	_ resource.ResourceWithValidateConfig = (*partitionedTableResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*partitionedTableResource)(nil)
)

// NewPartitionedTableResource returns the pgshard_partitioned_table resource.
func NewPartitionedTableResource() resource.Resource { return &partitionedTableResource{} }

type partitionedTableResource struct{ client *Client }

func (r *partitionedTableResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_partitioned_table"
}

func (r *partitionedTableResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The partitioned parent of a sharded table (`CREATE TABLE ... PARTITION BY`). Its partitions are " +
			"`pgshard_foreign_partition` (a shard reached through postgres_fdw) and `pgshard_partition` (local, such as the DEFAULT).\n\n" +
			"Destroy drops the parent and, with it, every partition's local definition; it refuses while a local partition holds " +
			"rows unless `force_destroy = true`. The rows of foreign partitions live on the shards and are never touched. " +
			"A partitioned table with foreign partitions cannot have a primary key or unique index (a PostgreSQL limit).\n\n" +
			"With `parent` and a bound it is itself a partition of another partitioned table, partitioned again by its own `partition_by` " +
			"(time as the second axis: `tweets` by region, `tweets_europe` by month); `columns` may then be omitted, as they are the parent's.",
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
			"columns": partitionedTableColumns(),
			"partition_by": schema.SingleNestedAttribute{
				MarkdownDescription: "How rows are split among partitions. Changing it replaces the table.",
				Required:            true,
				Attributes: map[string]schema.Attribute{
					"strategy": schema.StringAttribute{
						MarkdownDescription: "`list`, `range` or `hash`.",
						Required:            true,
						Validators:          []validator.String{stringvalidator.OneOf("list", "range", "hash")},
						PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
					},
					"key": schema.ListAttribute{
						MarkdownDescription: "Key columns by name, or expressions in parentheses such as `(lower(location))`.",
						Required:            true,
						ElementType:         types.StringType,
						Validators: []validator.List{
							listvalidator.SizeAtLeast(1),
							listvalidator.ValueStringsAre(stringvalidator.LengthBetween(1, postgres.MaxIdentifierLength*4)),
						},
						// A key that means another key replaces the table; ModifyPlan asks the server.
					},
				},
			},
			"force_destroy": schema.BoolAttribute{
				MarkdownDescription: "Drop the table on destroy even while local partitions (at any level below it) hold rows (they are lost). Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
		},
	}
	for k, v := range subPartitionAttributes() {
		resp.Schema.Attributes[k] = v
	}
}

func (r *partitionedTableResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *partitionedTableResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	// Read attribute by attribute: partition_by, its key and each key element may be
	// unknown until apply (another resource's output), which the model cannot hold.
	var columns, key types.List
	var partitionBy types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("columns"), &columns)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("partition_by"), &partitionBy)...)
	validateSubPartition(ctx, req.Config, columns, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || columns.IsNull() || columns.IsUnknown() || partitionBy.IsNull() || partitionBy.IsUnknown() {
		return
	}
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("partition_by").AtName("key"), &key)...)
	if resp.Diagnostics.HasError() || key.IsNull() || key.IsUnknown() {
		return
	}
	var cols []columnModelV0
	var keys []types.String
	if columns.ElementsAs(ctx, &cols, false).HasError() || key.ElementsAs(ctx, &keys, false).HasError() {
		return
	}
	names, namesKnown := map[string]bool{}, true
	for _, c := range cols {
		names[c.Name.ValueString()] = true
		namesKnown = namesKnown && !c.Name.IsUnknown()
	}
	for i, element := range keys {
		if element.IsNull() || element.IsUnknown() {
			continue
		}
		k := element.ValueString()
		if postgres.IsKeyExpression(k) {
			if err := postgres.CheckExpression(k); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("partition_by").AtName("key").AtListIndex(i), "Invalid Partition Key",
					fmt.Sprintf("The key expression %q %s.", k, err))
			}
			continue
		}
		if namesKnown && !names[k] {
			resp.Diagnostics.AddAttributeError(path.Root("partition_by").AtName("key").AtListIndex(i), "Invalid Partition Key",
				fmt.Sprintf("The partition key %q names no column of the table. Use one of the columns, or an expression in parentheses such as (lower(location)).", k))
		}
	}
}

func (r *partitionedTableResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Partitioned Table", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *partitionedTableModelV0, diags *diag.Diagnostics) (string, error) {
		t := plan.toTable(ctx, diags)
		p, sub := plan.partitionOf(ctx, diags)
		if diags.HasError() {
			return "", nil
		}
		what := tablePhrase("partitioned table", t.Schema, t.Name)
		if !sub {
			return what, postgres.CreateTable(ctx, db, t)
		}
		if plan.Columns.IsUnknown() {
			t.Columns = nil // the parent's
		}
		err := postgres.CreatePartitionedPartition(ctx, db, t, p)
		var mismatch *postgres.PartitionColumnsError
		if errors.As(err, &mismatch) {
			diags.AddAttributeError(path.Root("columns"), "Partitioned Table Create Error", columnsNotParentsDetail(t.Schema, t.Name, err))
			return what, nil
		}
		return what, err
	})
}

func (r *partitionedTableResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	// The first read after an import takes the table's parent from the catalog; other reads
	// take it only for a table whose parent is managed (see readParent).
	imported, d := req.Private.GetKey(ctx, privateImported)
	resp.Diagnostics.Append(d...)
	if len(imported) > 0 {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, nil)...)
	}
	readState(ctx, r.client, req, resp, func(ctx context.Context, m *partitionedTableModelV0, diags *diag.Diagnostics, action string) bool {
		if !r.read(ctx, m, diags, action, len(imported) > 0) {
			return false
		}
		r.dropStrayFences(ctx, m.Schema.ValueString(), m.Name.ValueString(), diags)
		return !diags.HasError()
	})
}

// dropStrayFences drops, at refresh, the move constraints a create stopped before its
// commit left on the DEFAULT partition (see postgres.DropStrayFences), and says so.
func (r *partitionedTableResource) dropStrayFences(ctx context.Context, schemaName, name string, diags *diag.Diagnostics) {
	db, err := r.client.DB()
	if err != nil {
		return
	}
	dropped, err := postgres.DropStrayFences(ctx, db, schemaName, name)
	switch {
	case errors.Is(err, postgres.ErrMoveRunning):
	case err != nil:
		diags.AddWarning("Move Constraint Not Dropped", fmt.Sprintf("The DEFAULT partition of %s.%s in database %q may carry a constraint pgshard_moving_... that a partition create "+
			"stopped before its commit left, which refuses rows of that partition's bound there. The refresh could not check or drop it: %s. The next refresh tries again.",
			schemaName, name, r.client.Database(), reason(err)))
	case len(dropped) > 0:
		diags.AddWarning("Move Constraint Dropped", fmt.Sprintf("The DEFAULT partition of %s.%s in database %q carried %s, left by a partition create with "+
			"move_rows_from_default that stopped before its commit. It refused rows of that partition's bound in DEFAULT; the refresh dropped it. No row was moved or changed.",
			schemaName, name, r.client.Database(), strings.Join(dropped, ", ")))
	}
}

func (r *partitionedTableResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Partitioned Table", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, prior *partitionedTableModelV0, diags *diag.Diagnostics) (string, error) {
		to := plan.toTable(ctx, diags)
		if plan.Columns.IsNull() || plan.Columns.IsUnknown() {
			// A partition's columns not known yet are the parent's, as they were: none is dropped.
			to.Columns = modelColumns(columnModels(ctx, prior.Columns, diags))
		}
		// A rename the last apply made is never made again (its renamed_from stays in state).
		to.Columns = withoutAppliedRenames(to.Columns, columnModels(ctx, prior.Columns, diags))
		if diags.HasError() {
			return "", nil
		}
		// The shard tables the provider manages take the change too, as one change with the
		// parent's: it happens on all of them or on none.
		change, err := postgres.AlterPartitionedTable(ctx, db, prior.Schema.ValueString(), prior.Name.ValueString(), to, plan.ForceDestroy.ValueBool())
		if len(change.Lagging) > 0 {
			warnLaggingShards(to, change.Lagging, diags)
		}
		if err == nil {
			err = updateParent(ctx, db, plan, prior, diags)
		}
		return tablePhrase("partitioned table", to.Schema, to.Name), err
	})
}

// warnLaggingShards names the foreign partitions whose shard tables no longer answer the
// parent's columns after a column change: those the provider does not manage.
func warnLaggingShards(to postgres.Table, lagging []string, diags *diag.Diagnostics) {
	diags.AddWarning("Shard Tables Lag Behind The Parent",
		fmt.Sprintf("The columns of %s.%s changed. The provider adds new columns to the shard tables it manages (create_remote_table), "+
			"but does not alter other shard tables, nor change a shard column's type. These foreign partitions' shard tables do not match any more, "+
			"and queries through them fail until the shards are altered the same way (for example with pgshard_table through a provider pointed at each shard):\n\n%s",
			to.Schema, to.Name, strings.Join(lagging, "\n")))
}

// ModifyPlan shows what an update does to the columns' values, and refuses while planning
// a destroy or replace that would drop local rows (unless force_destroy), so that it never
// stops halfway through the partitions.
func (r *partitionedTableResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		if !req.Plan.Raw.IsNull() {
			planColumnChanges(ctx, r.client, "Partitioned Table", req, resp, "", "", types.BoolNull())
			planTaintedTable(ctx, r.client, "Partitioned Table", req.Plan, &resp.Diagnostics)
			planSubPartition(ctx, r.client, req, resp, nil)
		}
		return
	}
	var state partitionedTableModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	schemaName, name, force := state.Schema.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool()
	if req.Plan.Raw.IsNull() {
		refuseDestroyAtPlan(ctx, r.client, "Partitioned Table", "Destroy", schemaName, name, force, &resp.Diagnostics)
		return
	}
	var strategy types.String
	var key types.List
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("partition_by").AtName("strategy"), &strategy)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("partition_by").AtName("key"), &key)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.PartitionBy != nil && !strategy.IsUnknown() && strategy.Equal(state.PartitionBy.Strategy) && !key.Equal(state.PartitionBy.Key) &&
		r.sameKeyOnServer(ctx, schemaName, name, strategy, key, state.PartitionBy.Key) {
		// Another spelling of the same key: the prior state's stands for it.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("partition_by").AtName("key"), state.PartitionBy.Key)...)
		key = state.PartitionBy.Key
	}
	if state.PartitionBy != nil && (strategy.IsUnknown() || key.IsUnknown() || !strategy.Equal(state.PartitionBy.Strategy) || !key.Equal(state.PartitionBy.Key)) {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("partition_by").AtName("key"))
		if !strategy.IsUnknown() && !key.IsUnknown() {
			refuseDestroyAtPlan(ctx, r.client, "Partitioned Table", "Replace", schemaName, name, force, &resp.Diagnostics)
		}
		return
	}
	planSubPartition(ctx, r.client, req, resp, &state)
	var force2 types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("force_destroy"), &force2)...)
	planColumnChanges(ctx, r.client, "Partitioned Table", req, resp, schemaName, name, force2)
}

// sameKeyOnServer reports whether the configured key is the state's to the server.
func (r *partitionedTableResource) sameKeyOnServer(ctx context.Context, schemaName, name string, strategy types.String, key, prior types.List) bool {
	if !r.client.Known() {
		return false
	}
	var diags diag.Diagnostics
	want, have := stringList(ctx, key, &diags), stringList(ctx, prior, &diags)
	if diags.HasError() || len(want) != len(key.Elements()) {
		return false // an element not known yet
	}
	db, err := r.client.DB()
	if err != nil {
		return false
	}
	same, err := postgres.SameKey(ctx, db, schemaName, name, postgres.PartitionKey{Strategy: strategy.ValueString(), Key: want},
		postgres.PartitionKey{Strategy: strategy.ValueString(), Key: have})
	return err == nil && same
}

func (r *partitionedTableResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state partitionedTableModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	deleteTable(ctx, r.client, "Partitioned Table", state.Schema.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool(), &resp.Diagnostics)
}

func (r *partitionedTableResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importTableID(ctx, req, resp, "partitioned table")
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("force_destroy"), false)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, []byte("true"))...)
}

// privateImported marks, in private state, a partitioned table imported and not read yet.
const privateImported = "imported"

// updateParent attaches the table (already renamed) to its planned parent when it had
// none in state (detached out of band, or a parent newly configured for a table pgshard did
// not attach), or detaches it when the plan has no parent and it had one. Any other change
// of parent or bound replaces the table (planSubPartition).
func updateParent(ctx context.Context, db *postgres.DB, plan, prior *partitionedTableModelV0, diags *diag.Diagnostics) error {
	p, sub := plan.partitionOf(ctx, diags)
	hadParent := !prior.Parent.IsNull() && prior.Parent.ValueString() != ""
	switch {
	case diags.HasError():
		return nil
	case sub && !hadParent:
		return postgres.AttachDetached(ctx, db, p)
	case !sub && hadParent:
		return postgres.DetachPartition(ctx, db, plan.Schema.ValueString(), plan.Name.ValueString())
	}
	return nil
}

// readParent sets parent and bound from the catalog for a table whose parent is managed
// (parent in state, or the first read after an import): "" when it was detached out of
// band, which plans it attached again. A table attached by hand whose state has no parent
// (created before pgshard knew parents, or a parent never configured) keeps none, and the
// plan never detaches it; a warning says how to manage it.
func (r *partitionedTableResource) readParent(ctx context.Context, m *partitionedTableModelV0, isPartition, imported bool, diags *diag.Diagnostics, action string) bool {
	if !isPartition && (m.Parent.IsNull() || m.Parent.ValueString() == "") {
		if imported {
			m.Parent = types.StringNull()
		}
		return true
	}
	schemaName, name := m.Schema.ValueString(), m.Name.ValueString()
	p, ok := readObject(ctx, r.client, "Partitioned Table", tablePhrase("partitioned table", schemaName, name), action, diags, func(ctx context.Context, db *postgres.DB) (*postgres.Partition, error) {
		return postgres.ReadPartition(ctx, db, schemaName, name)
	})
	if !ok {
		return false
	}
	if m.Parent.IsNull() && !imported {
		if action == "Read" {
			diags.AddWarning("Partitioned Table Attached Outside Its Configuration",
				fmt.Sprintf("%s.%s is a partition of %s.%s (%s), but its configuration has no parent, so pgshard leaves it attached as it is. "+
					"To manage it, set parent = %q and its bound (%s); removing parent later detaches it.",
					schemaName, name, p.ParentSchema, p.ParentName, p.Bound, tableID(p.ParentSchema, p.ParentName), p.Bound))
		}
		return true
	}
	m.Parent = parentValue(m.Parent, p.ParentSchema, p.ParentName)
	if p.ParentName != "" {
		m.readBound(ctx, r.client, p.ParentSchema, p.ParentName, p.Bound, diags)
	} else if imported {
		m.Parent = types.StringNull()
	}
	return !diags.HasError()
}

func (r *partitionedTableResource) readInto(ctx context.Context, m *partitionedTableModelV0, diags *diag.Diagnostics, action string) bool {
	return r.read(ctx, m, diags, action, false)
}

// read refreshes m from the catalog; imported is set for the first read after an import.
func (r *partitionedTableResource) read(ctx context.Context, m *partitionedTableModelV0, diags *diag.Diagnostics, action string, imported bool) bool {
	schemaName, name := m.Schema.ValueString(), m.Name.ValueString()
	t, ok := readTable(ctx, r.client, "Partitioned Table", schemaName, name, action, diags)
	if !ok {
		return false
	}
	if t.Kind != postgres.RelPartitioned {
		diags.AddError("Partitioned Table "+action+" Error",
			fmt.Sprintf("%s.%s in database %q is not a partitioned table (it is %s). Drop or rename it, or manage it with pgshard_table.", schemaName, name, r.client.Database(), t.Kind))
		return false
	}
	m.ID = types.StringValue(tableID(schemaName, name))
	if !r.readParent(ctx, m, t.IsPartition, imported, diags, action) {
		return false
	}
	var d diag.Diagnostics
	m.Columns, d = columnsToList(ctx, t.Columns, m.Columns, priorInServerForm(ctx, r.client, t.Columns, m.Columns), nil)
	diags.Append(d...)
	priorKey := []string{}
	if m.PartitionBy != nil {
		priorKey = stringList(ctx, m.PartitionBy.Key, diags)
	}
	key := t.PartitionBy.Key
	// Expressions print differently from how they were written: keep the prior spelling
	// when the server reads it as the catalog's key.
	if len(priorKey) == len(key) && strings.Join(priorKey, "\x00") != strings.Join(key, "\x00") {
		if db, err := r.client.DB(); err == nil {
			if same, err := postgres.SameKey(ctx, db, schemaName, name, postgres.PartitionKey{Strategy: t.PartitionBy.Strategy, Key: priorKey}, *t.PartitionBy); err == nil && same {
				key = priorKey
			}
		}
	}
	keyList, d := types.ListValueFrom(ctx, types.StringType, key)
	diags.Append(d...)
	m.PartitionBy = &partitionByModelV0{Strategy: types.StringValue(t.PartitionBy.Strategy), Key: keyList}
	return !diags.HasError()
}

type partitionedTableModelV0 struct {
	ID           types.String        `tfsdk:"id"`
	Parent       types.String        `tfsdk:"parent"`
	Schema       types.String        `tfsdk:"schema"`
	Name         types.String        `tfsdk:"name"`
	Columns      types.List          `tfsdk:"columns"`
	PartitionBy  *partitionByModelV0 `tfsdk:"partition_by"`
	ForceDestroy types.Bool          `tfsdk:"force_destroy"`
	boundModel
}

type partitionByModelV0 struct {
	Strategy types.String `tfsdk:"strategy"`
	Key      types.List   `tfsdk:"key"`
}

func (m partitionedTableModelV0) toTable(ctx context.Context, diags *diag.Diagnostics) postgres.Table {
	var cols []postgres.Column
	if !m.Columns.IsNull() && !m.Columns.IsUnknown() { // unknown: a partition's, the parent's
		var d diag.Diagnostics
		cols, d = columnsFromList(ctx, m.Columns)
		diags.Append(d...)
	}
	t := postgres.Table{Schema: m.Schema.ValueString(), Name: m.Name.ValueString(), Columns: cols}
	if m.PartitionBy != nil {
		t.PartitionBy = &postgres.PartitionKey{Strategy: m.PartitionBy.Strategy.ValueString(), Key: stringList(ctx, m.PartitionBy.Key, diags)}
	}
	return t
}

// partitionOf is the table as a partition of its parent; false without a parent.
func (m partitionedTableModelV0) partitionOf(ctx context.Context, diags *diag.Diagnostics) (postgres.Partition, bool) {
	if m.Parent.IsNull() || m.Parent.ValueString() == "" {
		return postgres.Partition{}, false
	}
	parentSchema, parentName, _ := parseTableID(m.Parent.ValueString())
	return postgres.Partition{Schema: m.Schema.ValueString(), Name: m.Name.ValueString(), ParentSchema: parentSchema, ParentName: parentName,
		Bound: m.toBound(ctx, diags)}, true
}
