package provider

import (
	"context"
	"database/sql"
	"fmt"

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
	_ resource.ResourceWithConfigure   = (*userMappingResource)(nil)
	_ resource.ResourceWithImportState = (*userMappingResource)(nil)
)

// NewUserMappingResource returns the pgshard_user_mapping resource.
func NewUserMappingResource() resource.Resource { return &userMappingResource{} }

type userMappingResource struct{ client *Client }

var userMappingAttributeOptions = map[string]string{"user": "user", "password": "password"}

func (r *userMappingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_user_mapping"
}

func (r *userMappingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A user mapping: the credentials a local role uses on a foreign server's shard (`CREATE USER MAPPING`). " +
			"`user`, `password` and `options` change in place with `ALTER USER MAPPING ... OPTIONS (ADD|SET|DROP ...)`.\n\n" +
			"A role that neither owns the server nor is the mapped role (nor a superuser) cannot read a mapping's options; " +
			"then the provider keeps the configured values in state instead of reporting drift it cannot see.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`server/role`; a part that contains `/` or starts with `\"` is double-quoted.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"server": schema.StringAttribute{
				MarkdownDescription: "Foreign server name. Changing it replaces the mapping.",
				Required:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"role": schema.StringAttribute{
				MarkdownDescription: "Local role the mapping is for, or `PUBLIC` for every role without a mapping of its own. " +
					"Default: the role the provider connects as. Changing it replaces the mapping.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.String{identifier{}, roleName{}},
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
					stringplanmodifier.RequiresReplace(),
				},
			},
			"user": schema.StringAttribute{
				MarkdownDescription: "Role to connect as on the shard (the `user` option).",
				Optional:            true,
			},
			"password": schema.StringAttribute{
				MarkdownDescription: "Password on the shard (the `password` option). Sensitive: never shown in plans or logs. " +
					"postgres_fdw requires one for non-superusers.",
				Optional:  true,
				Sensitive: true,
			},
			"options": schema.MapAttribute{
				MarkdownDescription: "Other user mapping options: `password_required`, `sslcert`, `sslkey`, `sslpassword` (the first three are superuser-only). " +
					"`user` and `password` go in their own attributes. Sensitive, since `sslpassword` is a secret.",
				Optional:    true,
				Sensitive:   true,
				ElementType: types.StringType,
				Validators: []validator.Map{validOptions("user mapping",
					[]string{"password_required", "sslcert", "sslkey", "sslpassword"}, userMappingAttributeOptions)},
			},
		},
	}
}

func (r *userMappingResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *userMappingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "User Mapping", req, resp, r.readInto, func(ctx context.Context, db *sql.DB, plan, _ *userMappingModelV0, diags *diag.Diagnostics) (string, error) {
		if plan.Role.IsNull() || plan.Role.IsUnknown() {
			role, err := postgres.CurrentUser(ctx, db)
			if err != nil {
				return "user mapping", err
			}
			plan.Role = types.StringValue(role)
		}
		m, d := plan.toMapping(ctx)
		if diags.Append(d...); d.HasError() {
			return m.Describe(), nil
		}
		return m.Describe(), postgres.CreateUserMapping(ctx, db, m)
	})
}

func (r *userMappingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

func (r *userMappingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "User Mapping", req, resp, r.readInto, func(ctx context.Context, db *sql.DB, plan, prior *userMappingModelV0, diags *diag.Diagnostics) (string, error) {
		to, d := plan.toMapping(ctx)
		diags.Append(d...)
		from, d := prior.toMapping(ctx)
		if diags.Append(d...); diags.HasError() {
			return to.Describe(), nil
		}
		// Diff against the catalog where it is readable, so that ADD/SET/DROP always match.
		current, err := postgres.ReadUserMapping(ctx, db, to.Server, to.Role)
		if err == nil && current.OptionsVisible {
			from = *current
		}
		if err == nil {
			err = postgres.UpdateUserMapping(ctx, db, from, to)
		}
		return to.Describe(), err
	})
}

func (r *userMappingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state userMappingModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m := postgres.UserMapping{Server: state.Server.ValueString(), Role: state.Role.ValueString()}
	db, err := r.client.DB()
	if err == nil {
		err = postgres.DropUserMapping(ctx, db, m.Server, m.Role)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "User Mapping", "Delete", m.Describe(), r.client.Database(), err)
	}
}

func (r *userMappingResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := postgres.SplitID(req.ID, '/', 2)
	if err == nil {
		if parts[1] == "public" {
			parts[1] = postgres.PublicRole
		}
		for _, p := range parts {
			if err == nil {
				err = postgres.CheckIdentifier(p)
			}
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("The import ID of a user mapping is `server/role` (role `PUBLIC` for the public mapping; double-quote a part that contains `/`): %s.", err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), postgres.JoinID('/', parts...))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("server"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("role"), parts[1])...)
}

// readInto refreshes m from the catalog. It returns false when the mapping does not exist.
func (r *userMappingResource) readInto(ctx context.Context, m *userMappingModelV0, diags *diag.Diagnostics, action string) bool {
	server, role := m.Server.ValueString(), m.Role.ValueString()
	desc := postgres.UserMapping{Server: server, Role: role}.Describe()
	um, ok := readObject(ctx, r.client, "User Mapping", desc, action, diags, func(ctx context.Context, db *sql.DB) (*postgres.UserMapping, error) {
		return postgres.ReadUserMapping(ctx, db, server, role)
	})
	if !ok {
		return false
	}
	m.ID = types.StringValue(postgres.JoinID('/', server, role))
	if !um.OptionsVisible {
		return true // keep the configured values: the catalog will not show them to this role
	}
	opts := um.Options
	m.User = takeOption(opts, "user")
	m.Password = takeOption(opts, "password")
	var d diag.Diagnostics
	m.Options, d = optionsToMap(opts, m.Options)
	diags.Append(d...)
	return !diags.HasError()
}

type userMappingModelV0 struct {
	ID       types.String `tfsdk:"id"`
	Server   types.String `tfsdk:"server"`
	Role     types.String `tfsdk:"role"`
	User     types.String `tfsdk:"user"`
	Password types.String `tfsdk:"password"`
	Options  types.Map    `tfsdk:"options"`
}

func (m userMappingModelV0) toMapping(ctx context.Context) (postgres.UserMapping, diag.Diagnostics) {
	opts, diags := optionsFromMap(ctx, m.Options)
	putOption(opts, "user", m.User)
	putOption(opts, "password", m.Password)
	return postgres.UserMapping{Server: m.Server.ValueString(), Role: m.Role.ValueString(), Options: opts, OptionsVisible: true}, diags
}
