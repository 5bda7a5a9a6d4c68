package provider

// Plan modifiers of this provider, one type each, all listed in the assertions below.

import (
	"context"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ planmodifier.List   = impliedNotNull{}
	_ planmodifier.String = defaultToName{}
	_ planmodifier.String = sameTable{}
	_ planmodifier.String = tableIDFromName{}
)

// impliedNotNull plans not_null where the configuration leaves it out: true for columns
// PostgreSQL makes NOT NULL anyway (serial types, primary key columns), false otherwise, so
// that an imported serial or key column plans no change whether not_null is written or not.
type impliedNotNull struct{}

func (impliedNotNull) Description(context.Context) string {
	return "not_null defaults to true for serial and primary key columns, false otherwise"
}

func (impliedNotNull) PlanModifyList(ctx context.Context, req planmodifier.ListRequest, resp *planmodifier.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || req.PlanValue.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	configured, planned := req.ConfigValue.Elements(), req.PlanValue.Elements()
	if len(configured) != len(planned) {
		return
	}
	primaryKey, keyKnown := configuredPrimaryKey(ctx, req.Config, &resp.Diagnostics)
	elements := make([]attr.Value, len(planned))
	for i := range planned {
		elements[i] = planned[i]
		config, ok := configured[i].(types.Object)
		plan, ok2 := planned[i].(types.Object)
		if !ok || !ok2 || config.IsNull() || config.IsUnknown() || plan.IsNull() || plan.IsUnknown() {
			continue
		}
		if notNull, ok := config.Attributes()["not_null"].(types.Bool); !ok || !notNull.IsNull() {
			continue
		}
		attrs := maps.Clone(plan.Attributes())
		attrs["not_null"] = impliedNotNullValue(config.Attributes(), primaryKey, keyKnown)
		element, d := types.ObjectValue(columnObjectType.AttrTypes, attrs)
		resp.Diagnostics.Append(d...)
		elements[i] = element
	}
	list, d := types.ListValue(columnObjectType, elements)
	resp.Diagnostics.Append(d...)
	if !resp.Diagnostics.HasError() {
		resp.PlanValue = list
	}
}

func (m impliedNotNull) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

// defaultToName plans remote_table as the partition's name when it is not configured at
// create, and keeps it after (a renamed partition keeps reading the same shard table).
type defaultToName struct{}

func (m defaultToName) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (defaultToName) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !req.ConfigValue.IsNull() {
		return
	}
	if !req.StateValue.IsNull() && !req.StateValue.IsUnknown() {
		resp.PlanValue = req.StateValue // a renamed partition keeps reading the same shard table
		return
	}
	var name types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	resp.PlanValue = name
}

func (defaultToName) Description(context.Context) string { return "defaults to the partition's name" }

// sameTable keeps the prior spelling of a table reference that names the same table
// (tweets and public.tweets).
type sameTable struct{}

func (sameTable) Description(context.Context) string {
	return "keeps the prior spelling of the same table"
}

func (sameTable) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || req.StateValue.IsNull() || req.StateValue.IsUnknown() {
		return
	}
	if sameTableID(req.ConfigValue.ValueString(), req.StateValue.ValueString()) {
		resp.PlanValue = req.StateValue
	}
}

func (m sameTable) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

// tableIDFromName plans id as schema.name from the planned schema and name, so that a
// rename in place plans the new id (and an unchanged name keeps the old one).
type tableIDFromName struct{}

func (m tableIDFromName) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (tableIDFromName) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	var schema, name types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("schema"), &schema)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	if schema.IsUnknown() || name.IsUnknown() || schema.IsNull() || name.IsNull() {
		return
	}
	resp.PlanValue = types.StringValue(tableID(schema.ValueString(), name.ValueString()))
}

func (tableIDFromName) Description(context.Context) string { return "schema.name of the table" }
