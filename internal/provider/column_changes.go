package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Column changes of pgshard_table and pgshard_partitioned_table as the plan shows them, in
// the form the server prints (compare by meaning), with the renames and type changes they make.

// planColumnChanges is the plan-time half of a column update. It plans renamed_from where
// the configuration leaves it out (the prior value: once applied it may be removed without
// a diff), and says what the update will do to the values: a rename keeps them, a type
// change rewrites them, and a drop of a column holding values is refused, while planning,
// unless force_destroy is set. The counts are made again, in the apply's transaction.
func planColumnChanges(ctx context.Context, client *Client, kind string, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, schema, name string, force types.Bool) {
	var planCols, configCols, stateCols []columnModelV0
	var planList, configList, stateList types.List
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("columns"), &planList)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("columns"), &configList)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("columns"), &stateList)...)
	if resp.Diagnostics.HasError() || unknownElements(planList) || unknownElements(configList) {
		return
	}
	resp.Diagnostics.Append(planList.ElementsAs(ctx, &planCols, false)...)
	resp.Diagnostics.Append(configList.ElementsAs(ctx, &configCols, false)...)
	if !stateList.IsNull() && !stateList.IsUnknown() {
		resp.Diagnostics.Append(stateList.ElementsAs(ctx, &stateCols, false)...)
	}
	if resp.Diagnostics.HasError() || len(planCols) != len(configCols) {
		return
	}
	prior := map[string]types.String{}
	for _, c := range stateCols {
		prior[c.Name.ValueString()] = c.RenamedFrom
	}
	known := true
	for i := range planCols {
		if configCols[i].RenamedFrom.IsNull() {
			planCols[i].RenamedFrom = types.StringNull()
			if v, ok := prior[planCols[i].Name.ValueString()]; ok && !v.IsUnknown() {
				planCols[i].RenamedFrom = v // what the last apply was told: kept so that removing it plans no diff
			}
		}
		known = known && !planCols[i].Name.IsUnknown() && !planCols[i].Type.IsUnknown() && !planCols[i].Default.IsUnknown() && !planCols[i].NotNull.IsUnknown() &&
			!planCols[i].Generated.IsUnknown()
	}
	setPlan := func() {
		l, d := types.ListValueFrom(ctx, columnObjectType, planCols)
		resp.Diagnostics.Append(d...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("columns"), l)...)
	}
	if !known || req.State.Raw.IsNull() || !client.Known() || resp.Diagnostics.HasError() {
		setPlan()
		return // a create plans without connecting
	}
	db, err := client.DB()
	var current *postgres.Table
	if err == nil {
		current, err = postgres.ReadTable(ctx, db, schema, name)
	}
	if errors.Is(err, postgres.ErrNotFound) {
		setPlan()
		return
	}
	var to []postgres.Column
	if err == nil {
		var cerr error
		if to, cerr = canonicalPlan(ctx, db, planCols, stateCols, current.Columns); cerr != nil {
			// The server could not take the configured columns now (a type an extension of
			// this same plan creates, a read-only role): the apply compares them, in its change.
			to = withoutAppliedRenames(modelColumns(planCols), stateCols)
			resp.Diagnostics.AddWarning("Columns Not Compared While Planning", fmt.Sprintf(
				"The configured columns of %s.%s could not be compared with the catalog in the server's own form while planning: %s. "+
					"The plan shows every column whose text differs; the apply compares them exactly and changes only what differs.", schema, name, reason(cerr)))
		}
	}
	setPlan()
	var change postgres.ColumnPlan
	if err == nil {
		change, err = postgres.PlanColumns(current.Columns, to)
	}
	var held, shards []string
	if err == nil && len(change.Drops) > 0 {
		held, err = postgres.ValuesHeld(ctx, db, schema, name, change.Drops)
	}
	if err == nil && current.Kind == postgres.RelPartitioned && !change.Empty() {
		shards, err = postgres.ShardTables(ctx, db, schema, name)
	}
	var unfit []string
	if err == nil {
		var uerr error
		if unfit, uerr = postgres.Unconvertible(ctx, db, schema, name, typeChanges(current.Columns, to, change)); uerr != nil {
			resp.Diagnostics.AddWarning("Type Change Not Checked While Planning", fmt.Sprintf(
				"Whether every value of %s.%s converts to its new type could not be checked while planning: %s. "+
					"The apply still changes the base and every managed shard together, or nothing.", schema, name, reason(uerr)))
		}
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, kind, "Plan", tablePhrase(strings.ToLower(kind), schema, name), client.Database(), err)
		return
	}
	if len(unfit) > 0 {
		resp.Diagnostics.AddAttributeError(path.Root("columns"), "Column Type Change Refused", fmt.Sprintf(
			"Changing the type of columns of %s.%s would fail: values on these tables do not convert to the new type:\n\n%s\n\n"+
				"Nothing has been changed. Fix or delete those values first, or choose a type that holds them.", schema, name, strings.Join(unfit, "\n")))
		return
	}
	describeColumnChange(schema, name, current.Columns, to, change, held, force, &resp.Diagnostics)
	if len(shards) > 0 && !resp.Diagnostics.HasError() {
		resp.Diagnostics.AddWarning("Column Change Reaches The Shards", fmt.Sprintf(
			"The column change of %s.%s also reaches the shard tables the provider manages (create_remote_table) among:\n\n%s\n\n"+
				"New columns, renames, type and default changes and dropped NOT NULLs are made on the shards before the parent's change is visible; "+
				"NOT NULL and dropped columns right after. A type change rewrites each shard table. Shard tables the provider does not manage "+
				"are left as they are (renamed columns keep being read under their old name).", schema, name, strings.Join(shards, "\n")))
	}
}

// describeColumnChange puts what a column update does to the values into the plan.
func describeColumnChange(schema, name string, from, to []postgres.Column, change postgres.ColumnPlan, held []string, force types.Bool, diags *diag.Diagnostics) {
	table := schema + "." + name
	for _, r := range change.Renames {
		diags.AddWarning("Column Renamed", fmt.Sprintf("Column %q of %s will be renamed to %q; its values are kept. Clients that use the old name fail from then on.", r[0], table, r[1]))
	}
	typeOf := map[string]string{}
	for _, c := range from {
		typeOf[c.Name] = c.Type
	}
	for _, c := range typeChanges(from, to, change) {
		diags.AddWarning("Column Type Changes", fmt.Sprintf("Column %q of %s changes type from %s to %s: PostgreSQL rewrites every value, on the base "+
			"and on every shard table the provider manages, in one change. Every value was checked to convert while planning; one written "+
			"since that does not convert makes the apply fail and change nothing anywhere.", c.Column, table, typeOf[c.Column], c.To))
	}
	if len(held) > 0 && !force.IsUnknown() && !force.ValueBool() {
		diags.AddAttributeError(path.Root("columns"), "Column Drop Refused", fmt.Sprintf(
			"This plan would drop from %s %s, which would be lost. Nothing has been changed.\n\n"+
				"To rename a column and keep its values, give the new column renamed_from = \"<old name>\". "+
				"To drop the values, set force_destroy = true in the same apply.", table, strings.Join(held, ", ")))
		return
	}
	for _, d := range change.Drops {
		diags.AddWarning("Column Dropped", fmt.Sprintf("Column %q of %s will be dropped with its values (%s).", d, table, heldPhrase(d, held)))
	}
}

// canonicalPlan compares the planned columns with the catalog's in the server's own form
// (postgres.CanonicalColumns): where a planned type or default means what the column
// already has, the plan keeps the prior state's spelling, so that no spelling of the same
// value plans a change. It returns the wanted columns in the server's form, with the
// renames the last apply already made left out, for postgres.PlanColumns.
func canonicalPlan(ctx context.Context, db *postgres.DB, planCols, stateCols []columnModelV0, catalog []postgres.Column) ([]postgres.Column, error) {
	wanted := withoutAppliedRenames(modelColumns(planCols), stateCols)
	canonical, err := postgres.CanonicalColumns(ctx, db, wanted)
	if err != nil {
		return nil, err
	}
	have := map[string]postgres.Column{}
	for _, c := range catalog {
		have[c.Name] = c
	}
	for i := range planCols {
		if i >= len(stateCols) || stateCols[i].Name.ValueString() != planCols[i].Name.ValueString() {
			continue // only the prior value at the same place in the list may stand for the configured one
		}
		cur, ok := have[planCols[i].Name.ValueString()]
		if !ok {
			continue
		}
		if canonical[i].Type == cur.Type && !stateCols[i].Type.IsNull() {
			planCols[i].Type = stateCols[i].Type
		}
		// A default left out stays null: Terraform takes the prior value only for a configured one.
		if canonical[i].Default == cur.Default && !stateCols[i].Default.IsNull() && !planCols[i].Default.IsNull() {
			planCols[i].Default = stateCols[i].Default
		}
		if canonical[i].Generated == cur.Generated && !stateCols[i].Generated.IsNull() && !planCols[i].Generated.IsNull() {
			planCols[i].Generated = stateCols[i].Generated
		}
	}
	return canonical, nil
}

// modelColumns maps column models to the PostgreSQL layer's columns.
func modelColumns(models []columnModelV0) []postgres.Column {
	out := make([]postgres.Column, len(models))
	for i, m := range models {
		out[i] = postgres.Column{Name: m.Name.ValueString(), Type: m.Type.ValueString(), NotNull: m.NotNull.ValueBool(),
			Default: m.Default.ValueString(), RenamedFrom: m.RenamedFrom.ValueString(), Generated: m.Generated.ValueString()}
	}
	return out
}

// withoutAppliedRenames drops the renamed_from of columns whose prior state carries the same
// one under the same name: that rename was made by an earlier apply (the state reflects
// the catalog, where the column has that name), and is never made again.
func withoutAppliedRenames(cols []postgres.Column, stateCols []columnModelV0) []postgres.Column {
	applied := map[string]string{}
	for _, c := range stateCols {
		if !c.RenamedFrom.IsNull() && !c.RenamedFrom.IsUnknown() {
			applied[c.Name.ValueString()] = c.RenamedFrom.ValueString()
		}
	}
	out := make([]postgres.Column, len(cols))
	for i, c := range cols {
		if from, ok := applied[c.Name]; ok && from == c.RenamedFrom {
			c.RenamedFrom = ""
		}
		out[i] = c
	}
	return out
}

// columnModels reads a columns list (none when null or unknown).
func columnModels(ctx context.Context, l types.List, diags *diag.Diagnostics) []columnModelV0 {
	var out []columnModelV0
	if !l.IsNull() && !l.IsUnknown() {
		diags.Append(l.ElementsAs(ctx, &out, false)...)
	}
	return out
}

// renamedTypes maps each column's name after the change's renames to its current type.
func renamedTypes(from []postgres.Column, change postgres.ColumnPlan) map[string]string {
	typeOf := map[string]string{}
	for _, c := range from {
		typeOf[c.Name] = c.Type
	}
	for _, r := range change.Renames {
		typeOf[r[1]] = typeOf[r[0]]
	}
	return typeOf
}

// typeChanges lists the columns whose type the change alters, by their current name.
func typeChanges(from, to []postgres.Column, change postgres.ColumnPlan) []postgres.TypeChange {
	typeOf := renamedTypes(from, change)
	current := map[string]string{}
	for _, r := range change.Renames {
		current[r[1]] = r[0]
	}
	var out []postgres.TypeChange
	for _, c := range to {
		if old, ok := typeOf[c.Name]; ok && old != c.Type {
			name := c.Name
			if was, renamed := current[c.Name]; renamed {
				name = was
			}
			out = append(out, postgres.TypeChange{Column: name, To: c.Type})
		}
	}
	return out
}

func heldPhrase(column string, held []string) string {
	for _, h := range held {
		if strings.HasPrefix(h, fmt.Sprintf("column %q ", column)) {
			return strings.TrimPrefix(h, fmt.Sprintf("column %q ", column))
		}
	}
	return "it holds none"
}
