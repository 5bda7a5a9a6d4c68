package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Every resource has an identity (Terraform 1.12+): {id}, the resource's import ID, the same
// string as its id attribute. It is set from the state after every create, read and update,
// in one place (identified), and an import block may give it instead of an ID. It changes
// when an object is renamed in place, so it is mutable. Older CLIs and OpenTofu neither send
// nor keep it, and nothing else depends on it.

// managedResource is what every pgshard resource implements (ValidateConfig,
// ConfigValidators and ModifyPlan are passed on where it has them).
type managedResource interface {
	resource.ResourceWithConfigure
	resource.ResourceWithImportState
}

var (
	_ resource.ResourceWithIdentity         = identified{}
	_ resource.ResourceWithConfigure        = identified{}
	_ resource.ResourceWithImportState      = identified{}
	_ resource.ResourceWithValidateConfig   = identified{}
	_ resource.ResourceWithModifyPlan       = identified{}
	_ resource.ResourceWithConfigValidators = identified{}
)

// identified is a resource with its identity.
type identified struct{ inner managedResource }

// withIdentity gives the resource made by newResource its identity.
func withIdentity(newResource func() resource.Resource) func() resource.Resource {
	return func() resource.Resource {
		r, ok := newResource().(managedResource)
		if !ok {
			panic("a pgshard resource lacks Configure or ImportState") // a programming error, caught by every test
		}
		return identified{inner: r}
	}
}

func (r identified) Metadata(ctx context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	r.inner.Metadata(ctx, req, resp)
	resp.ResourceBehavior.MutableIdentity = true // a rename in place changes the id
}

func (r identified) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	r.inner.Schema(ctx, req, resp)
}

func (identified) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{Attributes: map[string]identityschema.Attribute{
		"id": identityschema.StringAttribute{
			RequiredForImport: true,
			Description:       "The import ID: the same string as the id attribute (see the resource's Import section).",
		},
	}}
}

func (r identified) Configure(ctx context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.inner.Configure(ctx, req, resp)
}

func (r identified) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	if v, ok := r.inner.(resource.ResourceWithValidateConfig); ok {
		v.ValidateConfig(ctx, req, resp)
	}
}

func (r identified) ConfigValidators(ctx context.Context) []resource.ConfigValidator {
	if v, ok := r.inner.(resource.ResourceWithConfigValidators); ok {
		return v.ConfigValidators(ctx)
	}
	return nil
}

func (r identified) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if m, ok := r.inner.(resource.ResourceWithModifyPlan); ok {
		m.ModifyPlan(ctx, req, resp)
	}
}

func (r identified) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.inner.Create(ctx, req, resp)
	setIdentity(ctx, resp.State, resp.Identity, &resp.Diagnostics)
}

func (r identified) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	r.inner.Read(ctx, req, resp)
	state := resp.State
	if state.Raw.IsNull() {
		// Gone (dropped out of band): the framework still wants an identity, which a state
		// written before identities (or by a CLI that keeps none) lacks: the prior state's.
		state = req.State
	}
	setIdentity(ctx, state, resp.Identity, &resp.Diagnostics)
}

func (r identified) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.inner.Update(ctx, req, resp)
	setIdentity(ctx, resp.State, resp.Identity, &resp.Diagnostics)
}

func (r identified) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	r.inner.Delete(ctx, req, resp)
}

// ImportState takes the identity's id where an import block gives an identity, not an ID.
func (r identified) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if req.ID == "" && req.Identity != nil && !req.Identity.Raw.IsNull() {
		var id types.String
		resp.Diagnostics.Append(req.Identity.GetAttribute(ctx, path.Root("id"), &id)...)
		if resp.Diagnostics.HasError() {
			return
		}
		req.ID = id.ValueString()
	}
	r.inner.ImportState(ctx, req, resp) // the read that follows sets the identity
}

// setIdentity sets identity to the state's id (nothing when the state is gone or the write
// failed before it had one).
func setIdentity(ctx context.Context, state tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	if identity == nil || state.Raw.IsNull() || diags.HasError() {
		return
	}
	var id types.String
	diags.Append(state.GetAttribute(ctx, path.Root("id"), &id)...)
	if id.IsNull() || id.IsUnknown() {
		return
	}
	diags.Append(identity.SetAttribute(ctx, path.Root("id"), id)...)
}
