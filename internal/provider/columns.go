package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// columnsAttribute is the `columns` list shared by pgshard_partitioned_table and pgshard_table.
func columnsAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		MarkdownDescription: "Columns, in order. Added, dropped, retyped, defaulted and made NOT NULL in place with `ALTER TABLE`. " +
			"Types compare by meaning, so `int4` and `integer`, `varchar(20)` and `character varying(20)`, `timestamptz` and " +
			"`timestamp with time zone` never show a diff. PostgreSQL cannot reorder columns: a new order is recorded, not applied.",
		Required: true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "Column name (at most 63 bytes). Renaming is a drop and an add: the column's data is lost.",
				Required:            true,
				Validators:          []validator.String{identifier{}},
			},
			"type": schema.StringAttribute{
				MarkdownDescription: "SQL type, such as `text`, `integer`, `bigint`, `varchar(20)`, `numeric(10,2)`, `timestamptz`, `text[]`, " +
					"or `serial`/`bigserial` (an integer with a sequence default of its own).",
				Required:      true,
				Validators:    []validator.String{sqlType{}},
				PlanModifiers: []planmodifier.String{sameMeaning{kind: "type", same: postgres.SameType}},
			},
			"not_null": schema.BoolAttribute{
				MarkdownDescription: "Whether the column is `NOT NULL`. Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"default": schema.StringAttribute{
				MarkdownDescription: "Default value as an SQL expression: `0`, `now()`, `'europe'` (a string needs its single quotes). " +
					"Compared the way PostgreSQL prints it, so `'europe'` and `'europe'::text` are the same.",
				Optional:      true,
				Validators:    []validator.String{sqlExpression{}},
				PlanModifiers: []planmodifier.String{sameMeaning{kind: "default", same: postgres.SameExpression}},
			},
		}},
		Validators: []validator.List{listvalidator.SizeAtLeast(1), uniqueColumnNames{}},
	}
}

type columnModelV0 struct {
	Name    types.String `tfsdk:"name"`
	Type    types.String `tfsdk:"type"`
	NotNull types.Bool   `tfsdk:"not_null"`
	Default types.String `tfsdk:"default"`
}

var columnObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "not_null": types.BoolType, "default": types.StringType,
}}

func columnsFromList(ctx context.Context, l types.List) ([]postgres.Column, diag.Diagnostics) {
	var models []columnModelV0
	diags := l.ElementsAs(ctx, &models, false)
	cols := make([]postgres.Column, len(models))
	for i, m := range models {
		cols[i] = postgres.Column{Name: m.Name.ValueString(), Type: m.Type.ValueString(), NotNull: m.NotNull.ValueBool(), Default: m.Default.ValueString()}
	}
	return cols, diags
}

// columnsToList builds the state's columns from the catalog's, in the prior order where
// the prior state knows a column, keeping the prior spelling of types and defaults that
// mean the same. impliedNotNull lists columns whose NOT NULL comes from a primary key or
// serial: for them the prior not_null is kept, as the catalog cannot tell them apart.
func columnsToList(ctx context.Context, catalog []postgres.Column, prior types.List, impliedNotNull map[string]bool) (types.List, diag.Diagnostics) {
	var priorModels []columnModelV0
	var diags diag.Diagnostics
	if !prior.IsNull() && !prior.IsUnknown() {
		diags.Append(prior.ElementsAs(ctx, &priorModels, false)...)
	}
	byName := map[string]postgres.Column{}
	for _, c := range catalog {
		byName[c.Name] = c
	}
	priorByName := map[string]columnModelV0{}
	var ordered []postgres.Column
	for _, m := range priorModels {
		priorByName[m.Name.ValueString()] = m
		if c, ok := byName[m.Name.ValueString()]; ok {
			ordered = append(ordered, c)
			delete(byName, c.Name)
		}
	}
	for _, c := range catalog {
		if _, ok := byName[c.Name]; ok {
			ordered = append(ordered, c)
		}
	}
	models := make([]columnModelV0, len(ordered))
	for i, c := range ordered {
		m := columnModelV0{Name: types.StringValue(c.Name), Type: types.StringValue(c.Type), NotNull: types.BoolValue(c.NotNull), Default: types.StringNull()}
		if c.Default != "" {
			m.Default = types.StringValue(c.Default)
		}
		p, known := priorByName[c.Name]
		if _, serial := map[string]bool{"serial": true, "bigserial": true, "smallserial": true}[postgres.CanonicalType(c.Type)]; serial || impliedNotNull[c.Name] {
			m.NotNull = types.BoolValue(false)
			if known && !p.NotNull.IsUnknown() && !p.NotNull.IsNull() && c.NotNull {
				m.NotNull = p.NotNull
			}
		}
		if known {
			if !p.Type.IsNull() && !p.Type.IsUnknown() && postgres.SameType(p.Type.ValueString(), c.Type) {
				m.Type = p.Type
			}
			if !p.Default.IsNull() && !p.Default.IsUnknown() && c.Default != "" && postgres.SameExpression(p.Default.ValueString(), c.Default) {
				m.Default = p.Default
			}
		}
		models[i] = m
	}
	l, d := types.ListValueFrom(ctx, columnObjectType, models)
	diags.Append(d...)
	return l, diags
}

// sameMeaning keeps the prior state's spelling when the configured value means the same
// (int4 for integer, 'x' for 'x'::text), so equivalent spellings never plan a change.
type sameMeaning struct {
	kind string
	same func(a, b string) bool
}

func (m sameMeaning) Description(context.Context) string {
	return "keeps the prior " + m.kind + " when the configured one means the same"
}
func (m sameMeaning) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

func (m sameMeaning) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || req.StateValue.IsNull() || req.StateValue.IsUnknown() {
		return
	}
	if m.same(req.ConfigValue.ValueString(), req.StateValue.ValueString()) {
		resp.PlanValue = req.StateValue
	}
}

type sqlType struct{}

func (sqlType) Description(context.Context) string               { return "must be a PostgreSQL type name" }
func (v sqlType) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (sqlType) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckType(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Column Type",
			fmt.Sprintf("The type %q of %s %s.", req.ConfigValue.ValueString(), req.Path, err))
	}
}

type sqlExpression struct{}

func (sqlExpression) Description(context.Context) string {
	return "must be a single SQL expression"
}
func (v sqlExpression) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (sqlExpression) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckExpression(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid SQL Expression",
			fmt.Sprintf("The expression %q of %s %s. Write one SQL expression, such as 0, now() or 'europe' (strings in single quotes).", req.ConfigValue.ValueString(), req.Path, err))
	}
}

type uniqueColumnNames struct{}

func (uniqueColumnNames) Description(context.Context) string { return "column names must be unique" }
func (v uniqueColumnNames) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (uniqueColumnNames) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var models []columnModelV0
	if d := req.ConfigValue.ElementsAs(ctx, &models, false); d.HasError() {
		return
	}
	seen := map[string]bool{}
	for i, m := range models {
		if m.Name.IsNull() || m.Name.IsUnknown() {
			continue
		}
		n := m.Name.ValueString()
		if seen[n] {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("name"), "Duplicate Column Name",
				fmt.Sprintf("The column name %q appears more than once in %s. Each column needs its own name.", n, req.Path))
		}
		seen[n] = true
	}
}

// columnNames lists the names of columns, for validation of keys against them.
func columnNames(cols []postgres.Column) map[string]bool {
	out := map[string]bool{}
	for _, c := range cols {
		out[c.Name] = true
	}
	return out
}
