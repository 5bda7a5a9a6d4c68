package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*foreignServerUsageResource)(nil)
	_ resource.ResourceWithImportState    = (*foreignServerUsageResource)(nil)
	_ resource.ResourceWithValidateConfig = (*foreignServerUsageResource)(nil)
)

// NewForeignServerUsageResource returns the pgshard_foreign_server_usage resource.
func NewForeignServerUsageResource() resource.Resource { return &foreignServerUsageResource{} }

type foreignServerUsageResource struct{ client *Client }

func (r *foreignServerUsageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_foreign_server_usage"
}

func (r *foreignServerUsageResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "`USAGE` on a foreign server for one role (`GRANT USAGE ON FOREIGN SERVER ... TO ...`): what a role that " +
			"does not own the server needs before it can have a user mapping of its own on it or create foreign tables on it.\n\n" +
			"The privilege is read from the server's access list: revoked outside Terraform, it is granted again on the next apply. " +
			"Destroy revokes only this privilege, and never with `CASCADE`: if the role passed `USAGE` on to others " +
			"(`with_grant_option`), those grants must be revoked first, and the error names them. PostgreSQL keeps one grant per " +
			"grantor and a role revokes only its own (a superuser's grants count as the server owner's), so the provider's role " +
			"should own the server; a grant of the same privilege by another role stays, and destroy warns about it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`server/role`; a part that contains `/` or starts with `\"` is double-quoted. `PUBLIC` is the grant to every role.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"server": schema.StringAttribute{
				MarkdownDescription: "Foreign server the role may use. Changing it replaces the grant: the old one is revoked.",
				Required:            true,
				Validators:          []validator.String{validIdentifier()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"role": schema.StringAttribute{
				MarkdownDescription: "Role that receives `USAGE`, as PostgreSQL spells it (case matters, no quotes), or `PUBLIC` (upper case) " +
					"for every role, present and future. Changing it replaces the grant: the old one is revoked.",
				Required:      true,
				Validators:    []validator.String{validIdentifier(), validRole()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"with_grant_option": schema.BoolAttribute{
				MarkdownDescription: "Whether the role may grant `USAGE` on the server to other roles itself (`WITH GRANT OPTION`). " +
					"Default `false`. Changed in place (`GRANT ... WITH GRANT OPTION`, or `REVOKE GRANT OPTION FOR USAGE ...`, which fails " +
					"while grants the role made with it remain). `PUBLIC` cannot hold it.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
		},
	}
}

func (r *foreignServerUsageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig refuses what PostgreSQL would refuse at apply: a grant option for PUBLIC.
func (r *foreignServerUsageResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m foreignServerUsageModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Role.IsUnknown() || m.Role.ValueString() != postgres.PublicRole || !m.WithGrantOption.ValueBool() {
		return
	}
	resp.Diagnostics.AddAttributeError(path.Root("with_grant_option"), "Invalid Grant Option",
		"PostgreSQL grants options only to roles, not to PUBLIC. Remove with_grant_option, or grant it to a named role.")
}

func (r *foreignServerUsageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Foreign Server Usage", req, resp, r.readInto, r.grant)
}

func (r *foreignServerUsageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

// Update changes only with_grant_option: everything else replaces the grant.
func (r *foreignServerUsageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Foreign Server Usage", req, resp, r.readInto, r.grant)
}

func (r *foreignServerUsageResource) grant(ctx context.Context, db *postgres.DB, plan, _ *foreignServerUsageModelV0, _ *diag.Diagnostics) (string, error) {
	g := plan.toGrant()
	return g.Describe(), postgres.GrantServerUsage(ctx, db, g)
}

func (r *foreignServerUsageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state foreignServerUsageModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	g := state.toGrant()
	db, err := r.client.DB()
	if err == nil {
		err = postgres.RevokeServerUsage(ctx, db, g.Server, g.Role)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "Foreign Server Usage", "Delete", g.Describe(), r.client.Database(), err)
		return
	}
	// PostgreSQL keeps one grant per grantor: the role may still hold USAGE from another.
	if left, err := postgres.ReadServerGrant(ctx, db, g.Server, g.Role); err == nil {
		resp.Diagnostics.AddWarning("Foreign Server Usage Still Granted", fmt.Sprintf(
			"The provider's role revoked its grant of %s in database %q, but the privilege is still granted by %s. "+
				"A role revokes only the grants it made (a superuser's count as the server owner's): revoke the others as the roles that made them.",
			g.Describe(), r.client.Database(), strings.Join(quoteEach(left.Grantors), ", ")))
	}
}

// ImportState takes `server/role`; role `PUBLIC` (or `public`) is the grant to every role.
func (r *foreignServerUsageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importServerRoleID(ctx, req, resp, "a foreign server usage grant", "the grant to every role")
}

// readInto refreshes m from the server's access list. It returns false when the server or
// the privilege is gone.
func (r *foreignServerUsageResource) readInto(ctx context.Context, m *foreignServerUsageModelV0, diags *diag.Diagnostics, action string) bool {
	want := m.toGrant()
	g, ok := readObject(ctx, r.client, "Foreign Server Usage", want.Describe(), action, diags, func(ctx context.Context, db *postgres.DB) (*postgres.ServerGrant, error) {
		return postgres.ReadServerGrant(ctx, db, want.Server, want.Role)
	})
	if !ok {
		return false
	}
	m.ID = types.StringValue(postgres.JoinID('/', g.Server, g.Role))
	m.WithGrantOption = types.BoolValue(g.WithGrantOption)
	return true
}

type foreignServerUsageModelV0 struct {
	ID              types.String `tfsdk:"id"`
	Server          types.String `tfsdk:"server"`
	Role            types.String `tfsdk:"role"`
	WithGrantOption types.Bool   `tfsdk:"with_grant_option"`
}

func (m foreignServerUsageModelV0) toGrant() postgres.ServerGrant {
	return postgres.ServerGrant{Server: m.Server.ValueString(), Role: m.Role.ValueString(), WithGrantOption: m.WithGrantOption.ValueBool()}
}

// quoteEach is names, each in double quotes.
func quoteEach(names []string) []string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return quoted
}
