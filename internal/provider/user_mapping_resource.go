package provider

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*userMappingResource)(nil)
	_ resource.ResourceWithImportState    = (*userMappingResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*userMappingResource)(nil)
	_ resource.ResourceWithValidateConfig = (*userMappingResource)(nil)
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
			"With Terraform or OpenTofu 1.11 or later, prefer `password_wo` with `password_wo_version`: the password then never enters the plan or the state.\n\n" +
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
				MarkdownDescription: "Password on the shard (the `password` option). Sensitive: never shown in plans or logs, but stored in state. " +
					"postgres_fdw requires one for non-superusers. Conflicts with `password_wo`, which keeps the password out of state.",
				Optional:   true,
				Sensitive:  true,
				Validators: []validator.String{stringvalidator.ConflictsWith(path.MatchRoot("password_wo"))},
			},
			"password_wo": schema.StringAttribute{
				MarkdownDescription: "Password on the shard (the `password` option), write-only: Terraform passes it to the provider at apply and " +
					"never stores it in the plan or the state. Needs Terraform or OpenTofu 1.11 or later. It is set at create and whenever " +
					"`password_wo_version` changes; changing only `password_wo` changes nothing, so bump the version to rotate. " +
					"Requires `password_wo_version`; conflicts with `password`.",
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				Validators: []validator.String{
					stringvalidator.ConflictsWith(path.MatchRoot("password")),
					stringvalidator.AlsoRequires(path.MatchRoot("password_wo_version")),
				},
			},
			"password_wo_version": schema.Int64Attribute{
				MarkdownDescription: "Any number that changes when `password_wo` should be set again (rotation): a change updates the mapping in place " +
					"with the configured `password_wo`. Requires `password_wo`.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.AlsoRequires(path.MatchRoot("password_wo"))},
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

// ValidateConfig refuses password_wo on a CLI without write-only attributes (Terraform
// or OpenTofu before 1.11), naming the fix; the framework's own error, which follows it,
// names none.
func (r *userMappingResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	if req.ClientCapabilities.WriteOnlyAttributesAllowed {
		return
	}
	var password types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &password)...)
	if resp.Diagnostics.HasError() || password.IsNull() {
		return
	}
	resp.Diagnostics.AddAttributeError(path.Root("password_wo"), "Write-Only Attribute Not Supported",
		"pgshard_user_mapping's `password_wo` is a write-only attribute, which needs Terraform 1.11 or later (or OpenTofu 1.11 or later); "+
			"the Terraform CLI running this plan does not support write-only attributes, so the password cannot be passed without storing it.\n\n"+
			"Upgrade the CLI, or set `password` instead of `password_wo` and `password_wo_version` (Terraform then keeps the password in state, marked sensitive).")
}

func (r *userMappingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	passwordWO := configPasswordWO(ctx, req.Config, &resp.Diagnostics)
	createState(ctx, r.client, "User Mapping", req, resp, r.readInto, func(ctx context.Context, db *sql.DB, plan, _ *userMappingModelV0, diags *diag.Diagnostics) (string, error) {
		if plan.Role.IsNull() || plan.Role.IsUnknown() {
			role, err := postgres.CurrentUser(ctx, db)
			if err != nil {
				return "user mapping", err
			}
			plan.Role = types.StringValue(role)
		}
		m, d := plan.toMapping(ctx, passwordWO)
		if diags.Append(d...); d.HasError() {
			return m.Describe(), nil
		}
		return m.Describe(), postgres.CreateUserMapping(ctx, db, m)
	})
}

func (r *userMappingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

// Update diffs the options against the catalog. A write-only password is set only when
// password_wo_version changed (Terraform sees no other change of it); otherwise the
// mapping keeps the password it has.
func (r *userMappingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	passwordWO := configPasswordWO(ctx, req.Config, &resp.Diagnostics)
	updateState(ctx, r.client, "User Mapping", req, resp, r.readInto, func(ctx context.Context, db *sql.DB, plan, prior *userMappingModelV0, diags *diag.Diagnostics) (string, error) {
		setPassword := !plan.PasswordWOVersion.Equal(prior.PasswordWOVersion)
		if !setPassword {
			passwordWO = types.StringNull()
		}
		to, d := plan.toMapping(ctx, passwordWO)
		diags.Append(d...)
		from, d := prior.toMapping(ctx, types.StringNull())
		if diags.Append(d...); diags.HasError() {
			return to.Describe(), nil
		}
		if !prior.PasswordWOVersion.IsNull() {
			// An earlier apply set a password that state does not hold: SET or DROP it, not
			// ADD. (No PostgreSQL string holds NUL, so no real password equals this one.)
			from.Options["password"] = "\x00"
		}
		// Diff against the catalog where it is readable, so that ADD/SET/DROP always match.
		current, err := postgres.ReadUserMapping(ctx, db, to.Server, to.Role)
		if err == nil && current.OptionsVisible {
			from = *current
		}
		if !plan.PasswordWOVersion.IsNull() && !setPassword {
			keepOption(to.Options, from.Options, "password")
		}
		if err == nil {
			err = postgres.UpdateUserMapping(ctx, db, from, to)
		}
		return to.Describe(), err
	})
}

// ModifyPlan warns when the plan takes away a password that postgres_fdw needs: config
// generated by `terraform plan -generate-config-out` reads `password = null # sensitive`,
// since Terraform never writes a sensitive value into it, and applying it unchanged would
// drop the mapping's password and break every query through the server as that role.
func (r *userMappingResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || !r.client.Known() {
		return
	}
	var plan, prior userMappingModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	passwordWO := configPasswordWO(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || !plan.Password.IsNull() || !passwordWO.IsNull() || plan.Role.IsUnknown() || plan.Options.IsUnknown() {
		return
	}
	db, err := r.client.DB()
	if err != nil {
		return
	}
	m := postgres.UserMapping{Server: prior.Server.ValueString(), Role: prior.Role.ValueString()}
	if prior.Password.IsNull() && prior.PasswordWOVersion.IsNull() {
		// State holds no password; the catalog may (a refresh skipped, or options hidden).
		current, err := postgres.ReadUserMapping(ctx, db, m.Server, m.Role)
		if err != nil || !current.OptionsVisible {
			return
		}
		if _, ok := current.Options["password"]; !ok {
			return
		}
	}
	opts, d := optionsFromMap(ctx, plan.Options)
	resp.Diagnostics.Append(d...)
	role := plan.Role.ValueString()
	needs, err := postgres.MappingNeedsPassword(ctx, db, role, opts["password_required"])
	if err != nil || !needs {
		return // an invalid password_required fails the apply with PostgreSQL's own message
	}
	resp.Diagnostics.AddAttributeWarning(path.Root("password"), "User Mapping Password Will Be Removed",
		passwordRemovedDetail(postgres.UserMapping{Server: plan.Server.ValueString(), Role: role}))
}

// passwordRemovedDetail says what removing the password of mapping m breaks; it never
// holds the password.
func passwordRemovedDetail(m postgres.UserMapping) string {
	who, as := fmt.Sprintf("role %q, which is not a superuser", m.Role), "that role"
	if m.Role == postgres.PublicRole {
		who, as = "every role that uses the PUBLIC mapping", "any of them"
	}
	return fmt.Sprintf("This plan removes the password of the %s: the configuration sets neither `password` nor `password_wo`, "+
		"while the mapping has a password now. postgres_fdw requires one for %s, "+
		"so after the apply every query through server %q as %s fails with \"password is required\": "+
		"foreign partitions on that server can no longer be read or written through the parent.\n\n"+
		"Configuration written by `terraform plan -generate-config-out` always reads `password = null # sensitive`, because Terraform never writes a sensitive value into it. "+
		"To keep the mapping working, set `password` (for example from a sensitive variable) or `password_wo` with `password_wo_version` in its configuration. "+
		"If the role should connect without a password, a superuser can set `password_required = \"false\"` in `options`.",
		m.Describe(), who, m.Server, as)
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
	importServerRoleID(ctx, req, resp, "a user mapping", "the public mapping")
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
	m.PasswordWO = types.StringNull() // write-only: never in state
	if !um.OptionsVisible {
		return true // keep the configured values: the catalog will not show them to this role
	}
	opts := um.Options
	m.User = takeOption(opts, "user")
	m.Password = takeOption(opts, "password")
	if !m.PasswordWOVersion.IsNull() {
		// The password is write-only: it never enters state, and what the catalog holds
		// cannot be compared with a configuration Read does not see. A password dropped out
		// of band clears the version, so that the plan sets it again.
		if m.Password.IsNull() {
			m.PasswordWOVersion = types.Int64Null()
		}
		m.Password = types.StringNull()
	}
	var d diag.Diagnostics
	m.Options, d = optionsToMap(opts, m.Options)
	diags.Append(d...)
	return !diags.HasError()
}

// configPasswordWO reads password_wo, which only the configuration holds (plan and state
// hold null).
func configPasswordWO(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) types.String {
	var password types.String
	diags.Append(config.GetAttribute(ctx, path.Root("password_wo"), &password)...)
	return password
}

// keepOption makes to's key what from has, so that a diff of the two leaves it alone.
func keepOption(to, from map[string]string, key string) {
	if v, ok := from[key]; ok {
		to[key] = v
	} else {
		delete(to, key)
	}
}

type userMappingModelV0 struct {
	ID                types.String `tfsdk:"id"`
	Server            types.String `tfsdk:"server"`
	Role              types.String `tfsdk:"role"`
	User              types.String `tfsdk:"user"`
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
	Options           types.Map    `tfsdk:"options"`
}

// toMapping builds the mapping the model describes; passwordWO is the write-only password
// to set (from the configuration), or null.
func (m userMappingModelV0) toMapping(ctx context.Context, passwordWO types.String) (postgres.UserMapping, diag.Diagnostics) {
	opts, diags := optionsFromMap(ctx, m.Options)
	putOption(opts, "user", m.User)
	putOption(opts, "password", m.Password)
	putOption(opts, "password", passwordWO)
	return postgres.UserMapping{Server: m.Server.ValueString(), Role: m.Role.ValueString(), Options: opts, OptionsVisible: true}, diags
}
