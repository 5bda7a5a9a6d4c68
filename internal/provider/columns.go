package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
		MarkdownDescription: "Columns, in order. Added, dropped, renamed (`renamed_from`), retyped, defaulted and made NOT NULL in place with `ALTER TABLE`; " +
			"on a partitioned table the change also reaches every shard table the provider manages (`create_remote_table`), in the same apply, " +
			"ordered so that inserts through the parent and writes to a shard never fail for an added column (see the Data safety guide). " +
			"Renames and drops break clients that use the old name. " +
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
				Required:   true,
				Validators: []validator.String{sqlType{}},
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
				Optional:   true,
				Validators: []validator.String{sqlExpression{}},
			},
			"generated": schema.StringAttribute{
				MarkdownDescription: "Generation expression of a stored generated column (`GENERATED ALWAYS AS (<expression>) STORED`), such as " +
					"`\"lower(location)\"` or `\"like_count * 2\"`; the column then takes no `default`. Compared the way PostgreSQL prints it. " +
					"Removing it keeps the values as an ordinary column (`DROP EXPRESSION`); PostgreSQL 15 cannot add or change the expression " +
					"of an existing column, so that is refused at plan (add a new column instead). On a partitioned table the shard tables the " +
					"provider manages get the column generated too, with the same expression: postgres_fdw does not send generated values, so " +
					"each shard computes its own.",
				Optional:   true,
				Validators: []validator.String{sqlExpression{}, stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("default"))},
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
	Generated   types.String `tfsdk:"generated"`
}

var columnObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "not_null": types.BoolType, "default": types.StringType, "renamed_from": types.StringType,
	"generated": types.StringType,
}}

func columnsFromList(ctx context.Context, l types.List) ([]postgres.Column, diag.Diagnostics) {
	var models []columnModelV0
	diags := l.ElementsAs(ctx, &models, false)
	return modelColumns(models), diags
}

// columnsToList builds the state's columns from the catalog's, in the prior order where
// the prior state knows a column, keeping the prior spelling of types and defaults that
// the server prints as the catalog has them (canonical: the prior columns in the server's
// form, see priorInServerForm). impliedNotNull lists columns whose NOT NULL comes from a primary key (a
// serial's comes from its type): for them a prior not_null = false is kept, as the catalog
// reports NOT NULL whether or not it was asked for.
func columnsToList(ctx context.Context, catalog []postgres.Column, prior types.List, canonical map[string]postgres.Column, impliedNotNull map[string]bool) (types.List, diag.Diagnostics) {
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
			RenamedFrom: types.StringNull(), Generated: types.StringNull()}
		if c.Default != "" {
			m.Default = types.StringValue(c.Default)
		}
		if c.Generated != "" {
			m.Generated = types.StringValue(c.Generated)
		}
		p, known := priorByName[c.Name]
		if (isSerial(c.Type) || impliedNotNull[c.Name]) && known && !p.NotNull.IsUnknown() && !p.NotNull.IsNull() && !p.NotNull.ValueBool() {
			m.NotNull = p.NotNull
		}
		if known {
			if !p.RenamedFrom.IsUnknown() {
				m.RenamedFrom = p.RenamedFrom // configuration only: what the last apply was told
			}
			server, ok := canonical[c.Name]
			if !ok {
				server = postgres.Column{Type: p.Type.ValueString(), Default: p.Default.ValueString(), Generated: p.Generated.ValueString()} // spelled as the catalog has it
			}
			if !p.Type.IsNull() && !p.Type.IsUnknown() && server.Type == c.Type {
				m.Type = p.Type
			}
			if !p.Default.IsNull() && !p.Default.IsUnknown() && server.Default == c.Default {
				m.Default = p.Default
			}
			if !p.Generated.IsNull() && !p.Generated.IsUnknown() && server.Generated == c.Generated {
				m.Generated = p.Generated
			}
		}
		models[i] = m
	}
	l, d := types.ListValueFrom(ctx, columnObjectType, models)
	diags.Append(d...)
	return l, diags
}

// priorInServerForm asks the server how it prints the prior (planned or last read) types
// and defaults that are spelled otherwise than the catalog's, by column name. When the
// server cannot say (a spelling it refuses), the catalog's spelling is read into state.
func priorInServerForm(ctx context.Context, client *Client, catalog []postgres.Column, prior types.List) map[string]postgres.Column {
	var diags diag.Diagnostics
	priorCols := columnModels(ctx, prior, &diags)
	have := map[string]postgres.Column{}
	for _, c := range catalog {
		have[c.Name] = c
	}
	// Every prior column is asked about once one is spelled otherwise: a generation
	// expression refers to the others.
	var ask []postgres.Column
	differs := false
	for _, p := range priorCols {
		c, ok := have[p.Name.ValueString()]
		if !ok || p.Type.IsUnknown() || p.Default.IsUnknown() || p.Generated.IsUnknown() {
			continue
		}
		differs = differs || p.Type.ValueString() != c.Type || p.Default.ValueString() != c.Default || p.Generated.ValueString() != c.Generated
		ask = append(ask, postgres.Column{Name: c.Name, Type: p.Type.ValueString(), Default: p.Default.ValueString(), Generated: p.Generated.ValueString()})
	}
	if !differs {
		ask = nil
	}
	out := map[string]postgres.Column{}
	if len(ask) == 0 || diags.HasError() {
		return out
	}
	db, err := client.DB()
	if err != nil {
		return out
	}
	server, err := postgres.CanonicalColumns(ctx, db, ask)
	if err != nil {
		return out
	}
	for _, c := range server {
		out[c.Name] = c
	}
	return out
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
