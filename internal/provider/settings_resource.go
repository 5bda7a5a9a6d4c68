package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
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
	_ resource.ResourceWithConfigure        = (*settingsResource)(nil)
	_ resource.ResourceWithImportState      = (*settingsResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*settingsResource)(nil)
	_ resource.ResourceWithConfigValidators = (*settingsResource)(nil)
)

// NewSettingsResource returns the pgshard_settings resource.
func NewSettingsResource() resource.Resource { return &settingsResource{} }

type settingsResource struct{ client *Client }

func (r *settingsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_settings"
}

func (r *settingsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The configuration parameters PostgreSQL sets at login for a database, a role, or a role in a database " +
			"(`ALTER DATABASE ... SET`, `ALTER ROLE ... [IN DATABASE ...] SET`; one row of `pg_db_role_setting`), such as the " +
			"planner settings that let each shard aggregate and join its own rows (`enable_partitionwise_aggregate`, " +
			"`enable_partitionwise_join`; see the Performance guide). The resource owns the pair's settings: a parameter set out " +
			"of band shows in the plan and is reset, and destroy resets them all. Values are compared by meaning, as the server " +
			"prints them once set (`true` and `on` are the same). New sessions get them; open ones keep theirs. Needs the " +
			"database's owner for a database's settings, `CREATEROLE` for a role's, and a superuser for superuser-only parameters.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`database/role`, either part empty when not set.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"database": schema.StringAttribute{
				MarkdownDescription: "The database whose sessions get the settings. Omitted: every database (`role` is then required). Changing it replaces the resource.",
				Optional:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"role": schema.StringAttribute{
				MarkdownDescription: "The role whose sessions get the settings. Omitted: every role (`database` is then required). Changing it replaces the resource.",
				Optional:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"settings": schema.MapAttribute{
				MarkdownDescription: "Parameter name (lower case, as `pg_settings` names it) to value, as you would write it after `SET name =` " +
					"without quotes: `on`, `64MB`, `\"$user\", public`. Changed in place, in one transaction.",
				Required:    true,
				ElementType: types.StringType,
				Validators: []validator.Map{
					mapvalidator.SizeAtLeast(1),
					mapvalidator.KeysAre(parameterNameValidator{}),
				},
			},
		},
	}
}

func (r *settingsResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.AtLeastOneOf(path.MatchRoot("database"), path.MatchRoot("role"))}
}

func (r *settingsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan has the server check each configured value while planning, when the plan has
// connected already (a refreshed resource): a value it refuses fails the plan, not the apply.
func (r *settingsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan settingsModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	db := planDB(r.client)
	if resp.Diagnostics.HasError() || db == nil || plan.Settings.IsUnknown() {
		return
	}
	values, known := plan.values(ctx, &resp.Diagnostics)
	if !known {
		return
	}
	var prior map[string]string
	if !req.State.Raw.IsNull() {
		var state settingsModelV0
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		prior, _ = state.values(ctx, &resp.Diagnostics)
	}
	for name, value := range values {
		if p, ok := prior[name]; ok && p == value {
			continue // what the server holds already
		}
		if _, err := postgres.CanonicalSettings(ctx, db, map[string]string{name: value}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("settings").AtMapKey(name), "Invalid Setting",
				fmt.Sprintf("The server refuses settings[%q] = %q: %s. Give a value `SET %s = ...` takes (see SHOW %s and pg_settings for its type and unit).",
					name, value, reason(err), name, name))
		}
	}
}

func (r *settingsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Settings", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *settingsModelV0, diags *diag.Diagnostics) (string, error) {
		to := plan.toSettings(ctx, diags)
		existing, err := postgres.CreateSettings(ctx, db, to)
		if errors.Is(err, postgres.ErrSettingsExist) {
			err = fmt.Errorf("the %s exist already (%d parameters): import them (`terraform import` with ID %q) so that the plan shows what changes", to.Object(), existing, settingsID(to))
		}
		return to.Object(), err
	})
}

func (r *settingsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

func (r *settingsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Settings", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *settingsModelV0, diags *diag.Diagnostics) (string, error) {
		to := plan.toSettings(ctx, diags)
		return to.Object(), postgres.UpdateSettings(ctx, db, to)
	})
}

func (r *settingsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state settingsModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := postgres.Settings{Database: state.Database.ValueString(), Role: state.Role.ValueString()}
	db, err := r.client.DB()
	if err == nil {
		err = postgres.DropSettings(ctx, db, s)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "Settings", "Delete", s.Object(), r.client.Database(), err)
	}
}

func (r *settingsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitSettingsID(req.ID)
	for i := 0; err == nil && i < 2; i++ {
		if parts[i] != "" {
			err = postgres.CheckIdentifier(parts[i])
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of pgshard_settings is `database/role`, either part empty (`tweets/` for a database's own settings, `/api` for a role's in every database; double-quote a part that contains `/`); %q: %s.", req.ID, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	for i, attr := range []string{"database", "role"} {
		if parts[i] != "" {
			resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), parts[i])...)
		}
	}
}

// readInto reads the pair's settings. A value that means what the prior state's does keeps
// the prior's spelling (the configuration's), so that the server's own (on for true) is no
// diff; the server decides what means the same.
func (r *settingsResource) readInto(ctx context.Context, m *settingsModelV0, diags *diag.Diagnostics, action string) bool {
	want := postgres.Settings{Database: m.Database.ValueString(), Role: m.Role.ValueString()}
	prior, _ := m.values(ctx, diags)
	s, ok := readObject(ctx, r.client, "Settings", want.Object(), action, diags, func(ctx context.Context, db *postgres.DB) (*postgres.Settings, error) {
		s, err := postgres.ReadSettings(ctx, db, want.Database, want.Role)
		if err != nil {
			return nil, err
		}
		keepSpelling(ctx, db, s.Values, prior)
		return s, nil
	})
	if !ok {
		return false
	}
	m.ID = types.StringValue(settingsID(*s))
	values, d := types.MapValueFrom(ctx, types.StringType, s.Values)
	diags.Append(d...)
	m.Settings = values
	return true
}

// keepSpelling replaces each value of read by prior's where the server prints both the same.
// A value the server no longer takes (or cannot check) shows as the catalog holds it.
func keepSpelling(ctx context.Context, db *postgres.DB, read, prior map[string]string) {
	differ := map[string]string{}
	for name, v := range read {
		if p, ok := prior[name]; ok && p != v {
			differ[name] = v
		}
	}
	if len(differ) == 0 {
		return
	}
	wanted := map[string]string{}
	for name := range differ {
		wanted[name] = prior[name]
	}
	have, errHave := postgres.CanonicalSettings(ctx, db, differ)
	want, errWant := postgres.CanonicalSettings(ctx, db, wanted)
	if errHave != nil || errWant != nil {
		return
	}
	for name := range differ {
		if have[name] == want[name] {
			read[name] = prior[name]
		}
	}
}

// splitSettingsID splits `database/role`, where either part may be empty (SplitID takes
// none): `/role` or `database/`.
func splitSettingsID(id string) ([]string, error) {
	var parts []string
	var err error
	switch {
	case id == "/" || id == "":
		return nil, errors.New("it names neither a database nor a role")
	case strings.HasPrefix(id, "/"):
		parts, err = postgres.SplitID(id[1:], '/', 1)
		parts = append([]string{""}, parts...)
	case strings.HasSuffix(id, "/") && (strings.HasPrefix(id, `"`) || strings.Count(id, "/") == 1):
		if parts, err = postgres.SplitID(id[:len(id)-1], '/', 1); err != nil {
			parts, err = postgres.SplitID(id, '/', 2) // a quoted role that ends in /
		} else {
			parts = append(parts, "")
		}
	default:
		parts, err = postgres.SplitID(id, '/', 2)
	}
	if err == nil && len(parts) != 2 {
		err = errors.New("it has no `/` between the database and the role")
	}
	return parts, err
}

func settingsID(s postgres.Settings) string { return postgres.JoinID('/', s.Database, s.Role) }

type settingsModelV0 struct {
	ID       types.String `tfsdk:"id"`
	Database types.String `tfsdk:"database"`
	Role     types.String `tfsdk:"role"`
	Settings types.Map    `tfsdk:"settings"`
}

// values are the model's settings; false when the map or a value is not known.
func (m settingsModelV0) values(ctx context.Context, diags *diag.Diagnostics) (map[string]string, bool) {
	if m.Settings.IsNull() || m.Settings.IsUnknown() {
		return nil, false
	}
	for _, e := range m.Settings.Elements() {
		if e.IsUnknown() {
			return nil, false
		}
	}
	out := map[string]string{}
	diags.Append(m.Settings.ElementsAs(ctx, &out, false)...)
	return out, true
}

func (m settingsModelV0) toSettings(ctx context.Context, diags *diag.Diagnostics) postgres.Settings {
	values, _ := m.values(ctx, diags)
	return postgres.Settings{Database: m.Database.ValueString(), Role: m.Role.ValueString(), Values: values}
}
