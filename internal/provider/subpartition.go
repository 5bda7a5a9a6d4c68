package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Helpers for a pgshard_partitioned_table with a parent: a partitioned table that is itself
// a partition of another (a second level of partitioning).

// subPartitionPrefix starts the description of each bound attribute of pgshard_partitioned_table.
const subPartitionPrefix = "Only with `parent`: this table's bound in its parent, as for `pgshard_partition`. "

// subPartitionAttributes are the attributes that make a pgshard_partitioned_table a
// partition of another: parent, and the bound attributes of pgshard_partition.
func subPartitionAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"parent": schema.StringAttribute{
			MarkdownDescription: "Makes this table a partition of another partitioned table, as `schema.name` (a bare name is in `public`), " +
				"usually `pgshard_partitioned_table.x.id`: a second level of partitioning, such as `tweets` by `location` (LIST) and " +
				"`tweets_europe` by `created_at` (RANGE). It then needs a bound (`values_in`, `values_from`/`values_to`, `modulus`/`remainder` " +
				"or `modulus`/`remainder`), as a `pgshard_partition` does (a DEFAULT partition stays a plain `pgshard_partition`), and its own partitions take it as their `parent`. " +
				"Created detached and attached: the parent's DEFAULT partition is checked for rows of the bound before any lock, so the create blocks no query for a time that grows with rows " +
				"(a DEFAULT row of the bound refuses the create, naming it). Changing `parent` or the bound replaces the table (refused at plan while its partitions hold rows, " +
				"unless `force_destroy`). Removing `parent` detaches the table, keeping its rows; a table detached out of band is attached again in place. " +
				"A table attached by hand whose configuration has no `parent` is left attached (a warning says so); `terraform import` reads its parent and bound.",
			Optional:      true,
			Validators:    []validator.String{tableIDValidator{}},
			PlanModifiers: []planmodifier.String{sameTable{}},
		},
	}
	for k, v := range boundAttributes() {
		attrs[k] = boundOfSubPartition(v)
	}
	return attrs
}

// boundOfSubPartition is a partition's bound attribute as pgshard_partitioned_table has it.
func boundOfSubPartition(a schema.Attribute) schema.Attribute {
	switch v := a.(type) {
	case schema.ListAttribute:
		v.MarkdownDescription = subPartitionPrefix + v.MarkdownDescription
		return v
	case schema.Int64Attribute:
		v.MarkdownDescription = subPartitionPrefix + v.MarkdownDescription
		return v
	case schema.BoolAttribute:
		v.MarkdownDescription = subPartitionPrefix + v.MarkdownDescription
		return v
	}
	return a
}

// partitionedTableColumns is the columns attribute of pgshard_partitioned_table: required
// without parent (ValidateConfig says so), and the parent's, read from the catalog, when
// left out with one.
func partitionedTableColumns() schema.ListNestedAttribute {
	a := columnsAttribute()
	a.Required, a.Optional, a.Computed = false, true, true
	a.MarkdownDescription += " Required without `parent`. With `parent` they are the parent's (a partition has exactly its parent's columns): " +
		"leave them out to read them from the catalog, or give the parent's (a different set of names is refused at plan, a different type at apply). " +
		"Columns are changed on the top parent, not on a table with `parent`."
	a.PlanModifiers = append(a.PlanModifiers, listplanmodifier.UseStateForUnknown())
	return a
}

// validateSubPartition checks parent, bound and columns together: a bound only with a
// parent, exactly one bound with one, and columns without one.
func validateSubPartition(ctx context.Context, config tfsdk.Config, columns types.List, diags *diag.Diagnostics) {
	parent, b, d := subPartitionAttrs(ctx, config)
	if d.HasError() {
		diags.Append(d...)
		return
	}
	if parent.IsUnknown() {
		return
	}
	if !parent.IsNull() {
		validateBound(b, diags)
		if b.IsDefault.ValueBool() {
			diags.AddAttributeError(path.Root("is_default"), "Partitioned DEFAULT Partition Not Supported",
				"is_default = true would make this partitioned table its parent's DEFAULT partition. pgshard keeps a DEFAULT partition a plain table, "+
					"so that the rows it catches can be checked and moved out without locking the parent. Remove is_default and give a bound "+
					"(values_in, values_from/values_to or modulus/remainder), and catch the rest with a pgshard_partition with is_default = true.")
		}
		return
	}
	for attr, v := range map[string]interface {
		IsNull() bool
		IsUnknown() bool
	}{"values_in": b.ValuesIn, "values_from": b.ValuesFrom, "values_to": b.ValuesTo, "modulus": b.Modulus, "remainder": b.Remainder, "is_default": b.IsDefault} {
		if set(v) {
			diags.AddAttributeError(path.Root(attr), "Bound Without Parent",
				fmt.Sprintf("%s is a partition bound, which only a table with a parent has. Set parent to the partitioned table this one is a partition of "+
					"(such as pgshard_partitioned_table.tweets.id), or remove %s.", attr, attr))
		}
	}
	if columns.IsNull() {
		diags.AddAttributeError(path.Root("columns"), "Missing Columns",
			"A partitioned table without parent needs its columns. Give columns, or set parent to make it a partition of another partitioned table, whose columns it takes.")
	}
}

// attributeGetter is a plan's or a configuration's GetAttribute.
type attributeGetter interface {
	GetAttribute(context.Context, path.Path, any) diag.Diagnostics
}

// subPartitionAttrs reads parent and bound (the model cannot hold an unknown partition_by).
func subPartitionAttrs(ctx context.Context, from attributeGetter) (types.String, boundModel, diag.Diagnostics) {
	var parent types.String
	var b boundModel
	var diags diag.Diagnostics
	for attr, into := range map[string]any{"parent": &parent, "values_in": &b.ValuesIn, "values_from": &b.ValuesFrom, "values_to": &b.ValuesTo,
		"modulus": &b.Modulus, "remainder": &b.Remainder, "is_default": &b.IsDefault} {
		diags.Append(from.GetAttribute(ctx, path.Root(attr), into)...)
	}
	return parent, b, diags
}

// planSubPartition is the plan-time half of a table with a parent: the prior spelling of
// a bound the server reads as the configured one (state is nil at create), and a refusal of
// configured columns that are not the parent's.
func planSubPartition(ctx context.Context, client *Client, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, state *partitionedTableModelV0) {
	parent, b, d := subPartitionAttrs(ctx, req.Plan)
	if d.HasError() || parent.IsNull() || parent.IsUnknown() || parent.ValueString() == "" {
		return
	}
	if state != nil && !state.Parent.IsNull() && state.Parent.ValueString() != "" {
		keepBoundSpelling(ctx, client, parent.ValueString(), &b, state.boundModel, &resp.Plan, &resp.Diagnostics)
		planReparent(ctx, client, parent, b, state, resp)
	}
	var schemaName, name types.String
	var config types.List
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("schema"), &schemaName)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("columns"), &config)...)
	if resp.Diagnostics.HasError() || schemaName.IsUnknown() || name.IsUnknown() {
		return
	}
	planSubPartitionColumns(ctx, client, parent.ValueString(), schemaName.ValueString(), name.ValueString(), config, &resp.Diagnostics)
}

// planReparent replaces a table with a parent whose parent or bound changes (after the
// prior spelling of a bound the server reads the same is kept): moving its rows under a new
// bound would read them all with the parent locked, so the plan shows a replace, refused
// while its leaves hold rows unless force_destroy (as in state) allows their loss. A table
// detached out of band (parent "" in state) is attached again in place instead (Update).
func planReparent(ctx context.Context, client *Client, parent types.String, b boundModel, state *partitionedTableModelV0, resp *resource.ModifyPlanResponse) {
	sameParent := !parent.IsUnknown() && sameTableID(parent.ValueString(), state.Parent.ValueString())
	var changed []path.Path
	if !sameParent {
		changed = append(changed, path.Root("parent"))
	}
	for name, pair := range map[string][2]attr.Value{"values_in": {b.ValuesIn, state.ValuesIn}, "values_from": {b.ValuesFrom, state.ValuesFrom},
		"values_to": {b.ValuesTo, state.ValuesTo}, "modulus": {b.Modulus, state.Modulus}, "remainder": {b.Remainder, state.Remainder}} {
		if !pair[0].Equal(pair[1]) {
			changed = append(changed, path.Root(name))
		}
	}
	if len(changed) == 0 {
		return
	}
	resp.RequiresReplace = append(resp.RequiresReplace, changed...)
	refuseDestroyAtPlan(ctx, client, "Partitioned Table", "Replace", state.Schema.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool(), &resp.Diagnostics)
}

// planSubPartitionColumns refuses, while planning a table with a parent that exists
// already, configured columns whose names are not the parent's.
func planSubPartitionColumns(ctx context.Context, client *Client, parentID, schemaName, name string, config types.List, diags *diag.Diagnostics) {
	if config.IsNull() || config.IsUnknown() {
		return
	}
	db := planDB(client)
	parentSchema, parentName, err := parseTableID(parentID)
	if db == nil || err != nil {
		return
	}
	parent, err := postgres.ReadTable(ctx, db, parentSchema, parentName)
	if err != nil {
		return // the parent comes in this plan too, or the apply says what is wrong
	}
	var models []columnModelV0
	if config.ElementsAs(ctx, &models, false).HasError() {
		return
	}
	for _, m := range models {
		if m.Name.IsUnknown() {
			return
		}
	}
	if err := postgres.SameColumnNames(parent, modelColumns(models)); err != nil {
		diags.AddAttributeError(path.Root("columns"), "Partitioned Table Columns Are Not The Parent's", columnsNotParentsDetail(schemaName, name, err))
	}
}

// columnsNotParentsDetail explains a *postgres.PartitionColumnsError for the table schema.name.
func columnsNotParentsDetail(schemaName, name string, err error) string {
	return fmt.Sprintf("The columns configured for %s.%s are not its parent's: %s.\n\nA partition has exactly its parent's columns. "+
		"Leave columns out to take the parent's, or list the parent's columns; add, drop or rename columns on the top parent instead.", schemaName, name, err)
}
