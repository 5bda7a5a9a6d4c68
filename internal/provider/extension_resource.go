package provider

import (
	"context"
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
	_ resource.ResourceWithConfigure   = (*extensionResource)(nil)
	_ resource.ResourceWithImportState = (*extensionResource)(nil)
)

// NewExtensionResource returns the pgshard_extension resource.
func NewExtensionResource() resource.Resource { return &extensionResource{} }

type extensionResource struct{ client *Client }

func (r *extensionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_extension"
}

func (r *extensionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An extension installed in the provider's database (`CREATE EXTENSION`), typically `postgres_fdw`, " +
			"and `dblink` for `create_remote_table`. The version changes in place with `ALTER EXTENSION ... UPDATE TO`, the schema " +
			"with `ALTER EXTENSION ... SET SCHEMA`. Destroy never cascades: foreign servers that still use the extension make it fail. " +
			"Creating an extension needs a superuser or, for trusted extensions, `CREATE` on the database.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The extension name.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Extension name, such as `postgres_fdw`. Changing it replaces the extension.",
				Required:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"schema": schema.StringAttribute{
				MarkdownDescription: "Schema for the extension's objects. Default: the first schema of the search path (usually `public`). Changed in place for relocatable extensions.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "Extension version. Default: the extension's default version. Changed in place with `ALTER EXTENSION ... UPDATE TO`.",
				Optional:            true,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *extensionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *extensionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Extension", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *extensionModelV0, _ *diag.Diagnostics) (string, error) {
		e := plan.toExtension()
		return extensionPhrase(e.Name), postgres.CreateExtension(ctx, db, e)
	})
}

func (r *extensionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

func (r *extensionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Extension", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *extensionModelV0, _ *diag.Diagnostics) (string, error) {
		to := plan.toExtension()
		from, err := postgres.ReadExtension(ctx, db, to.Name)
		if err == nil {
			err = postgres.UpdateExtension(ctx, db, *from, to)
		}
		return extensionPhrase(to.Name), err
	})
}

func (r *extensionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state extensionModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	db, err := r.client.DB()
	if err == nil {
		err = postgres.DropExtension(ctx, db, state.Name.ValueString())
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "Extension", "Delete", extensionPhrase(state.Name.ValueString()), r.client.Database(), err)
	}
}

func (r *extensionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := postgres.CheckIdentifier(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of an extension is its name; %q %s.", req.ID, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

func (r *extensionResource) readInto(ctx context.Context, m *extensionModelV0, diags *diag.Diagnostics, action string) bool {
	name := m.Name.ValueString()
	e, ok := readObject(ctx, r.client, "Extension", extensionPhrase(name), action, diags, func(ctx context.Context, db *postgres.DB) (*postgres.Extension, error) {
		return postgres.ReadExtension(ctx, db, name)
	})
	if !ok {
		return false
	}
	m.ID = types.StringValue(e.Name)
	m.Schema = types.StringValue(e.Schema)
	m.Version = types.StringValue(e.Version)
	return true
}

func extensionPhrase(name string) string { return fmt.Sprintf("extension %q", name) }

type extensionModelV0 struct {
	ID      types.String `tfsdk:"id"`
	Name    types.String `tfsdk:"name"`
	Schema  types.String `tfsdk:"schema"`
	Version types.String `tfsdk:"version"`
}

func (m extensionModelV0) toExtension() postgres.Extension {
	e := postgres.Extension{Name: m.Name.ValueString()}
	if !m.Schema.IsNull() && !m.Schema.IsUnknown() {
		e.Schema = m.Schema.ValueString()
	}
	if !m.Version.IsNull() && !m.Version.IsUnknown() {
		e.Version = m.Version.ValueString()
	}
	return e
}
