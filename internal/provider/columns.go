package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
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
				MarkdownDescription: "Column name (at most 63 bytes). To rename a column and keep its values, change `name` and set `renamed_from` to the old name. " +
					"A name that changes without `renamed_from` is a drop and an add, refused while the old column holds values (unless `force_destroy`).",
				Required:   true,
				Validators: []validator.String{identifier{}},
			},
			"renamed_from": schema.StringAttribute{
				MarkdownDescription: "The column's previous name: the next apply renames that column (`ALTER TABLE ... RENAME COLUMN`, values kept) " +
					"instead of dropping it. On a partitioned table, each foreign partition keeps reading the shard's column under its old name " +
					"(postgres_fdw's `column_name` option). Once applied it may stay or be removed, without a diff.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.String{identifier{}},
			},
			"type": schema.StringAttribute{
				MarkdownDescription: "SQL type, such as `text`, `integer`, `bigint`, `varchar(20)`, `numeric(10,2)`, `timestamptz`, `text[]`, " +
					"or `serial`/`bigserial` (an integer with a sequence default of its own).",
				Required:      true,
				Validators:    []validator.String{sqlType{}},
				PlanModifiers: []planmodifier.String{sameMeaning{kind: "type", same: postgres.SameType}},
			},
			"not_null": schema.BoolAttribute{
				MarkdownDescription: "Whether the column is `NOT NULL`. Default `true` for `serial`/`bigserial`/`smallserial` columns and " +
					"(in `pgshard_table`) primary key columns, which PostgreSQL makes `NOT NULL` anyway; `false` otherwise.",
				Optional: true,
				Computed: true,
			},
			"default": schema.StringAttribute{
				MarkdownDescription: "Default value as an SQL expression: `0`, `now()`, `'europe'` (a string needs its single quotes). " +
					"Compared the way PostgreSQL prints it, so `'europe'` and `'europe'::text` are the same.",
				Optional:      true,
				Validators:    []validator.String{sqlExpression{}},
				PlanModifiers: []planmodifier.String{sameMeaning{kind: "default", same: postgres.SameExpression}},
			},
		}},
		Validators:    []validator.List{listvalidator.SizeAtLeast(1), uniqueColumnNames{}},
		PlanModifiers: []planmodifier.List{impliedNotNull{}},
	}
}

type columnModelV0 struct {
	Name        types.String `tfsdk:"name"`
	Type        types.String `tfsdk:"type"`
	NotNull     types.Bool   `tfsdk:"not_null"`
	Default     types.String `tfsdk:"default"`
	RenamedFrom types.String `tfsdk:"renamed_from"`
}

var columnObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "not_null": types.BoolType, "default": types.StringType, "renamed_from": types.StringType,
}}

func columnsFromList(ctx context.Context, l types.List) ([]postgres.Column, diag.Diagnostics) {
	var models []columnModelV0
	diags := l.ElementsAs(ctx, &models, false)
	cols := make([]postgres.Column, len(models))
	for i, m := range models {
		cols[i] = postgres.Column{Name: m.Name.ValueString(), Type: m.Type.ValueString(), NotNull: m.NotNull.ValueBool(), Default: m.Default.ValueString(),
			RenamedFrom: m.RenamedFrom.ValueString()}
	}
	return cols, diags
}

// columnsToList builds the state's columns from the catalog's, in the prior order where
// the prior state knows a column, keeping the prior spelling of types and defaults that
// mean the same. impliedNotNull lists columns whose NOT NULL comes from a primary key (a
// serial's comes from its type): for them a prior not_null = false is kept, as the catalog
// reports NOT NULL whether or not it was asked for.
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
		m := columnModelV0{Name: types.StringValue(c.Name), Type: types.StringValue(c.Type), NotNull: types.BoolValue(c.NotNull), Default: types.StringNull(),
			RenamedFrom: types.StringNull()}
		if c.Default != "" {
			m.Default = types.StringValue(c.Default)
		}
		p, known := priorByName[c.Name]
		if (isSerial(c.Type) || impliedNotNull[c.Name]) && known && !p.NotNull.IsUnknown() && !p.NotNull.IsNull() && !p.NotNull.ValueBool() {
			m.NotNull = p.NotNull
		}
		if known {
			if !p.RenamedFrom.IsUnknown() {
				m.RenamedFrom = p.RenamedFrom // configuration only: what the last apply was told
			}
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

// isSerial says whether a column type is one of the serial types, which are NOT NULL.
func isSerial(typ string) bool {
	switch postgres.CanonicalType(typ) {
	case "serial", "bigserial", "smallserial":
		return true
	}
	return false
}

// impliedNotNull plans not_null where the configuration leaves it out: true for columns
// PostgreSQL makes NOT NULL anyway (serial types, primary key columns), false otherwise, so
// that an imported serial or key column plans no change whether not_null is written or not.
type impliedNotNull struct{}

func (impliedNotNull) Description(context.Context) string {
	return "not_null defaults to true for serial and primary key columns, false otherwise"
}
func (m impliedNotNull) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

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

// impliedNotNullValue is the not_null a column gets when its configuration leaves it out;
// unknown while its type, name or the primary key is.
func impliedNotNullValue(column map[string]attr.Value, primaryKey map[string]bool, keyKnown bool) types.Bool {
	typ, _ := column["type"].(types.String)
	name, _ := column["name"].(types.String)
	switch {
	case typ.IsUnknown():
		return types.BoolUnknown()
	case isSerial(typ.ValueString()):
		return types.BoolValue(true)
	case !keyKnown || name.IsUnknown() && len(primaryKey) > 0:
		return types.BoolUnknown()
	}
	return types.BoolValue(primaryKey[name.ValueString()])
}

// configuredPrimaryKey reads the primary_key columns of the resource being planned (none
// for a resource without the attribute, such as pgshard_partitioned_table); false while
// they are not known.
func configuredPrimaryKey(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) (map[string]bool, bool) {
	if _, ok := config.Schema.GetAttributes()["primary_key"]; !ok {
		return nil, true
	}
	var key types.List
	diags.Append(config.GetAttribute(ctx, path.Root("primary_key"), &key)...)
	if key.IsUnknown() {
		return nil, false
	}
	var elements []types.String
	diags.Append(key.ElementsAs(ctx, &elements, false)...)
	out := map[string]bool{}
	for _, e := range elements {
		if e.IsUnknown() {
			return nil, false
		}
		out[e.ValueString()] = true
	}
	return out, true
}
