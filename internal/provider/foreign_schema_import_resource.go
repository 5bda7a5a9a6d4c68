package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*foreignSchemaImportResource)(nil)
	_ resource.ResourceWithImportState    = (*foreignSchemaImportResource)(nil)
	_ resource.ResourceWithValidateConfig = (*foreignSchemaImportResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*foreignSchemaImportResource)(nil)
)

// NewForeignSchemaImportResource returns the pgshard_foreign_schema_import resource.
func NewForeignSchemaImportResource() resource.Resource { return &foreignSchemaImportResource{} }

type foreignSchemaImportResource struct{ client *Client }

// importOptionKeys are postgres_fdw's IMPORT FOREIGN SCHEMA options (import_generated:
// PostgreSQL 14+).
var importOptionKeys = []string{"import_collate", "import_default", "import_generated", "import_not_null"}

func (r *foreignSchemaImportResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_foreign_schema_import"
}

func (r *foreignSchemaImportResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Foreign tables for the tables of a schema on a shard, made by postgres_fdw's " +
			"`IMPORT FOREIGN SCHEMA remote FROM SERVER server [LIMIT TO (...) | EXCEPT (...)] INTO local_schema`: each has the remote " +
			"table's name and columns.\n\n" +
			"The provider lists the remote schema through the foreign server with dblink (the `dblink` extension must be installed in " +
			"this database, for example with `pgshard_extension`), checks that every table of `limit_to` is there, and imports exactly " +
			"the tables it found, in one transaction. Every refresh compares the foreign tables with the remote (`remote_drift`); the " +
			"apply re-imports what changed. Changing `limit_to`, `except` or the drift touches only the tables concerned; changing " +
			"`options` re-imports them all.\n\n" +
			"Destroy drops only the foreign tables of this import (`DROP FOREIGN TABLE`, never CASCADE: a view reading one makes it " +
			"fail). **The remote tables and their rows, and the local schema, stay.**",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`local_schema/server/remote_schema`; a part that contains `/` or starts with `\"` is double-quoted, with `\"\"` for a quote inside.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"server": schema.StringAttribute{
				MarkdownDescription: "Foreign server of the shard to import from (`pgshard_foreign_server`). A user mapping for the provider's role must exist on it. Changing it replaces the import.",
				Required:            true,
				Validators:          []validator.String{validIdentifier()},
				PlanModifiers:       replace,
			},
			"remote_schema": schema.StringAttribute{
				MarkdownDescription: "Schema on the shard whose tables are imported (case-sensitive). Changing it replaces the import.",
				Required:            true,
				Validators:          []validator.String{validIdentifier()},
				PlanModifiers:       replace,
			},
			"local_schema": schema.StringAttribute{
				MarkdownDescription: "Schema of this database that receives the foreign tables; it must exist, and is never dropped. Changing it replaces the import.",
				Required:            true,
				Validators:          []validator.String{validIdentifier()},
				PlanModifiers:       replace,
			},
			"limit_to": schema.SetAttribute{
				MarkdownDescription: "Import only these remote tables (`LIMIT TO`). Every name must exist in the remote schema: the apply fails naming " +
					"those that do not (PostgreSQL itself would skip them silently), and imports nothing. Names are case-sensitive. Adding a name " +
					"imports only that table; removing one drops only its foreign table. Conflicts with `except`. Null after `terraform import`.",
				Optional:    true,
				ElementType: types.StringType,
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(validIdentifier()),
					setvalidator.ConflictsWith(path.MatchRoot("except")),
				},
			},
			"except": schema.SetAttribute{
				MarkdownDescription: "Import every remote table but these (`EXCEPT`). Without `limit_to` and `except`, the import takes every table, " +
					"view, foreign table, materialized view and partitioned table of the remote schema (partitions are left out, as postgres_fdw " +
					"does), including those created there later: the next refresh reports them in `remote_drift` and the apply imports them. " +
					"Null after `terraform import`.",
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{setvalidator.ValueStringsAre(validIdentifier())},
			},
			"options": schema.MapAttribute{
				MarkdownDescription: "postgres_fdw's import options, each `\"true\"` or `\"false\"`: `import_default` (copy column defaults; default " +
					"false), `import_collate` (copy collations; default true), `import_not_null` (copy NOT NULL; default true), `import_generated` " +
					"(copy generated columns' expressions; default true; PostgreSQL 14+). PostgreSQL does not keep them, so they are not read back " +
					"(null after `terraform import`). Changing them drops and re-imports every table of the import, in one transaction.",
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.Map{validOptions("IMPORT FOREIGN SCHEMA", importOptionKeys, nil)},
			},
			"tables": schema.ListAttribute{
				MarkdownDescription: "The foreign tables of this import, sorted: those in `local_schema` on `server` that read the remote table of " +
					"their own name in `remote_schema` and that `limit_to`/`except` take. Known at plan time when `limit_to` is set.",
				Computed:    true,
				ElementType: types.StringType,
			},
			"remote_drift": schema.StringAttribute{
				MarkdownDescription: "How the foreign tables differ from the remote schema, `\"\"` when they match: remote tables the import takes but " +
					"lacks (new on the shard, or foreign tables dropped here), foreign tables whose remote table is gone, and remote tables whose " +
					"columns changed (names and types; defaults, NOT NULL and collations are not compared). Read at every refresh through the " +
					"foreign server with dblink; a shard that cannot be reached gives a warning and keeps the prior value. A non-empty value plans " +
					"an update that imports the new tables, drops and re-imports the changed ones and drops those whose remote table is gone, in " +
					"one transaction.",
				Computed: true,
			},
		},
	}
}

func (r *foreignSchemaImportResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks option values at plan time: postgres_fdw takes any boolean
// spelling, the provider only "true" and "false", so that the configuration reads one way.
func (r *foreignSchemaImportResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var options types.Map
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("options"), &options)...)
	if resp.Diagnostics.HasError() || options.IsNull() || options.IsUnknown() {
		return
	}
	for key, elem := range options.Elements() {
		s, ok := elem.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() || s.ValueString() == "true" || s.ValueString() == "false" {
			continue
		}
		resp.Diagnostics.AddAttributeError(path.Root("options").AtMapKey(key), "Invalid Import Option Value",
			fmt.Sprintf("The value %q of options[%q] is not \"true\" or \"false\". Write %s = \"true\" or %s = \"false\", or remove the key to keep postgres_fdw's default.",
				s.ValueString(), key, key, key))
	}
}

func (r *foreignSchemaImportResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Foreign Schema Import", req, resp, r.readInto, r.sync)
}

func (r *foreignSchemaImportResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

func (r *foreignSchemaImportResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Foreign Schema Import", req, resp, r.readInto, r.sync)
}

// sync makes the foreign tables match plan and the remote (prior is nil at create); the
// refusals a user can act on are reported on the attribute to change.
func (r *foreignSchemaImportResource) sync(ctx context.Context, db *postgres.DB, plan, prior *foreignSchemaImportModelV0, diags *diag.Diagnostics) (string, error) {
	to := plan.toImport(ctx, diags)
	var from *postgres.SchemaImport
	action := "Create"
	if prior != nil {
		p := prior.toImport(ctx, diags)
		from, action = &p, "Update"
	}
	what := importPhrase(to)
	if diags.HasError() {
		return what, nil
	}
	_, err := postgres.SyncSchemaImport(ctx, db, from, to)
	var missing *postgres.RemoteMissingError
	var taken *postgres.ExistingTablesError
	switch {
	case errors.As(err, &missing) && missing.Tables == nil:
		diags.AddAttributeError(path.Root("remote_schema"), "Remote Schema Not Found", fmt.Sprintf(
			"Could not %s %s in database %q: the shard has no schema %q. Check remote_schema (names are case-sensitive) and the database "+
				"the server points at. Nothing was imported.", strings.ToLower(action), what, r.client.Database(), to.RemoteSchema))
	case errors.As(err, &missing):
		diags.AddAttributeError(path.Root("limit_to"), "Remote Tables Not Found", fmt.Sprintf(
			"limit_to lists %s, which remote schema %q on server %q does not hold (as a table, view, foreign table, materialized view or "+
				"partitioned table; partitions are never imported). IMPORT FOREIGN SCHEMA would skip them silently. Correct the names in "+
				"limit_to (they are case-sensitive) or create the tables on the shard first. Nothing was imported.",
			quoteNames(missing.Tables), to.RemoteSchema, to.Server))
	case errors.As(err, &taken):
		diags.AddError("Foreign Schema Import "+action+" Error", fmt.Sprintf(
			"Could not %s %s in database %q: schema %q already holds %s, and IMPORT FOREIGN SCHEMA never replaces a table. Drop them, "+
				"or leave them out with except (or limit_to); when an earlier IMPORT FOREIGN SCHEMA made them, bring that under Terraform "+
				"with `terraform import` (ID %q) instead. Nothing was imported.",
			strings.ToLower(action), what, r.client.Database(), to.LocalSchema, quoteNames(taken.Tables), importID(to)))
	default:
		return what, err
	}
	return what, nil
}

// ModifyPlan plans the repair of any drift the last refresh found, and says which tables
// the apply leaves when limit_to tells.
func (r *foreignSchemaImportResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan foreignSchemaImportModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !req.State.Raw.IsNull() {
		var state foreignSchemaImportModelV0
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() || !plan.changesFrom(state) {
			return
		}
	}
	plan.RemoteDrift = types.StringValue("")
	plan.Tables = plannedTables(plan.LimitTo)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *foreignSchemaImportResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state foreignSchemaImportModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	imp := state.toImport(ctx, &resp.Diagnostics)
	var tables []string
	if !state.Tables.IsNull() && !state.Tables.IsUnknown() {
		resp.Diagnostics.Append(state.Tables.ElementsAs(ctx, &tables, false)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	db, err := r.client.DB()
	if err == nil {
		err = postgres.DropImportedTables(ctx, db, imp, tables)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "Foreign Schema Import", "Delete", importPhrase(imp), r.client.Database(), err)
	}
}

func (r *foreignSchemaImportResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := postgres.SplitID(req.ID, '/', 3)
	for i := 0; err == nil && i < len(parts); i++ {
		if e := postgres.CheckIdentifier(parts[i]); e != nil {
			err = fmt.Errorf("%q %s", parts[i], e)
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of a foreign schema import is local_schema/server/remote_schema "+
			"(double-quote a part that contains /, with \"\" for a quote inside); %s.", err))
		return
	}
	for name, value := range map[string]string{"local_schema": parts[0], "server": parts[1], "remote_schema": parts[2]} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(name), value)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), postgres.JoinID('/', parts...))...)
}

// readInto lists the import's foreign tables from the catalog, then compares them with the
// remote schema. It returns false when the local schema or the server is gone.
func (r *foreignSchemaImportResource) readInto(ctx context.Context, m *foreignSchemaImportModelV0, diags *diag.Diagnostics, action string) bool {
	imp := m.toImport(ctx, diags)
	if diags.HasError() {
		return false
	}
	local, ok := readObject(ctx, r.client, "Foreign Schema Import", importPhrase(imp), action, diags, func(ctx context.Context, db *postgres.DB) ([]postgres.ImportedTable, error) {
		return postgres.ReadImportedTables(ctx, db, imp)
	})
	if !ok {
		return false
	}
	names := make([]string, len(local))
	for i, t := range local {
		names[i] = t.Name
	}
	m.ID = types.StringValue(importID(imp))
	m.Tables = types.ListValueMust(types.StringType, stringValues(names))
	r.recordDrift(ctx, m, imp, local, diags)
	return !diags.HasError()
}

// recordDrift sets remote_drift from the remote schema, read through the foreign server;
// when the shard cannot be asked, it warns and keeps the prior value.
func (r *foreignSchemaImportResource) recordDrift(ctx context.Context, m *foreignSchemaImportModelV0, imp postgres.SchemaImport, local []postgres.ImportedTable, diags *diag.Diagnostics) {
	db, err := r.client.DB()
	var remote []postgres.ImportedTable
	exists := false
	if err == nil {
		remote, exists, err = postgres.RemoteImportableTables(ctx, db, imp.Server, imp.RemoteSchema)
	}
	switch {
	case err != nil:
		if m.RemoteDrift.IsNull() || m.RemoteDrift.IsUnknown() {
			m.RemoteDrift = types.StringValue("")
		}
		diags.AddWarning("Remote Schema Not Checked", fmt.Sprintf("Could not compare the %s with the shard: %s. The prior remote_drift is kept.",
			importPhrase(imp), reason(err)))
	case !exists:
		m.RemoteDrift = types.StringValue(fmt.Sprintf("remote schema %q does not exist", imp.RemoteSchema))
	default:
		m.RemoteDrift = types.StringValue(strings.Join(postgres.ImportDrift(imp.Filter, local, remote), "; "))
	}
}

func importPhrase(imp postgres.SchemaImport) string {
	return fmt.Sprintf("foreign schema import of %q from server %q into schema %q", imp.RemoteSchema, imp.Server, imp.LocalSchema)
}

func importID(imp postgres.SchemaImport) string {
	return postgres.JoinID('/', imp.LocalSchema, imp.Server, imp.RemoteSchema)
}

// plannedTables is the tables attribute an apply leaves: limit_to's names, once the
// apply checked the remote has them all; unknown without limit_to.
func plannedTables(limitTo types.Set) types.List {
	if limitTo.IsNull() || limitTo.IsUnknown() {
		return types.ListUnknown(types.StringType)
	}
	names := make([]string, 0, len(limitTo.Elements()))
	for _, e := range limitTo.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() || s.IsNull() {
			return types.ListUnknown(types.StringType)
		}
		names = append(names, s.ValueString())
	}
	sort.Strings(names)
	return types.ListValueMust(types.StringType, stringValues(names))
}

func stringValues(names []string) []attr.Value {
	out := make([]attr.Value, len(names))
	for i, n := range names {
		out[i] = types.StringValue(n)
	}
	return out
}

func quoteNames(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(out, ", ")
}

type foreignSchemaImportModelV0 struct {
	ID           types.String `tfsdk:"id"`
	Server       types.String `tfsdk:"server"`
	RemoteSchema types.String `tfsdk:"remote_schema"`
	LocalSchema  types.String `tfsdk:"local_schema"`
	LimitTo      types.Set    `tfsdk:"limit_to"`
	Except       types.Set    `tfsdk:"except"`
	Options      types.Map    `tfsdk:"options"`
	Tables       types.List   `tfsdk:"tables"`
	RemoteDrift  types.String `tfsdk:"remote_drift"`
}

// changesFrom reports whether applying m over state would change anything: a configured
// attribute, or drift to repair.
func (m foreignSchemaImportModelV0) changesFrom(state foreignSchemaImportModelV0) bool {
	return state.RemoteDrift.ValueString() != "" || !m.Server.Equal(state.Server) || !m.RemoteSchema.Equal(state.RemoteSchema) ||
		!m.LocalSchema.Equal(state.LocalSchema) || !m.LimitTo.Equal(state.LimitTo) || !m.Except.Equal(state.Except) || !m.Options.Equal(state.Options)
}

func (m foreignSchemaImportModelV0) toImport(ctx context.Context, diags *diag.Diagnostics) postgres.SchemaImport {
	imp := postgres.SchemaImport{Server: m.Server.ValueString(), RemoteSchema: m.RemoteSchema.ValueString(), LocalSchema: m.LocalSchema.ValueString()}
	if !m.LimitTo.IsNull() && !m.LimitTo.IsUnknown() {
		imp.Filter.LimitTo = []string{}
		diags.Append(m.LimitTo.ElementsAs(ctx, &imp.Filter.LimitTo, false)...)
	}
	if !m.Except.IsNull() && !m.Except.IsUnknown() {
		diags.Append(m.Except.ElementsAs(ctx, &imp.Filter.Except, false)...)
	}
	var d diag.Diagnostics
	imp.Options, d = optionsFromMap(ctx, m.Options)
	diags.Append(d...)
	return imp
}
