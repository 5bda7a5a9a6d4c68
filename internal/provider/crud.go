package provider

// The read and write paths every resource shares.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// readFunc reads a resource's object from the database into its model; false with no error
// diagnostics means the object is gone.
type readFunc[M any] func(ctx context.Context, m *M, diags *diag.Diagnostics, action string) bool

// applyFunc makes the database match plan (prior is nil at create). It names the object in
// words for messages, and may add diagnostics of its own (warnings, conversion errors).
type applyFunc[M any] func(ctx context.Context, db *postgres.DB, plan, prior *M, diags *diag.Diagnostics) (object string, err error)

// createState is every resource's Create: see write.
func createState[M any](ctx context.Context, client *Client, kind string, req resource.CreateRequest, resp *resource.CreateResponse, read readFunc[M], apply applyFunc[M]) {
	var plan M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	write(ctx, client, kind, "Create", &plan, nil, &resp.State, &resp.Diagnostics, read, apply)
}

// updateState is every resource's Update: see write.
func updateState[M any](ctx context.Context, client *Client, kind string, req resource.UpdateRequest, resp *resource.UpdateResponse, read readFunc[M], apply applyFunc[M]) {
	var plan, prior M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	write(ctx, client, kind, "Update", &plan, &prior, &resp.State, &resp.Diagnostics, read, apply)
}

// write is the one write path: get the provider's database, apply the plan, report a
// failure in the house wording, read the object back and set the new state. The rule that
// nothing destroying rows runs unless they were counted (internal/postgres/safety.go) holds
// inside apply, in the transaction that would destroy them.
func write[M any](ctx context.Context, client *Client, kind, action string, plan, prior *M, state *tfsdk.State, diags *diag.Diagnostics, read readFunc[M], apply applyFunc[M]) {
	if diags.HasError() {
		return
	}
	ctx = client.withStepLog(ctx)
	defer client.enter(ctx)()
	db, err := client.DB()
	object := kind
	if err == nil {
		object, err = apply(ctx, db, plan, prior, diags)
	}
	if err != nil {
		addObjectError(diags, kind, action, object, client.Database(), err)
		return
	}
	if diags.HasError() {
		return
	}
	tflog.Debug(ctx, "pgshard: "+strings.ToLower(action)+" done", map[string]any{"object": object, "database": client.Database()})
	read(ctx, plan, diags, action)
	diags.Append(state.Set(ctx, plan)...)
}

// readState refreshes a resource's state through readInto. An object that no longer exists
// is removed from state, so that the plan creates it again; while the provider's connection
// settings are unknown (a database created in the same run), the prior state is kept.
func readState[M any](ctx context.Context, client *Client, req resource.ReadRequest, resp *resource.ReadResponse,
	readInto func(context.Context, *M, *diag.Diagnostics, string) bool) {
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !client.Known() {
		return
	}
	if !readInto(ctx, &state, &resp.Diagnostics, "Read") {
		if !resp.Diagnostics.HasError() {
			resp.State.RemoveResource(ctx)
		}
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// readObject reads one object of the provider's database through read. It returns false
// when the object does not exist (reporting it only when it vanished right after this
// provider wrote it, action Create or Update) or could not be read.
func readObject[T any](ctx context.Context, c *Client, kind, object, action string, diags *diag.Diagnostics,
	read func(context.Context, *postgres.DB) (T, error)) (T, bool) {
	var v T
	db, err := c.DB()
	if err == nil {
		v, err = read(ctx, db)
	}
	if errors.Is(err, postgres.ErrNotFound) {
		if action != "Read" {
			diags.AddError(kind+" "+action+" Error", fmt.Sprintf("The %s vanished from database %q right after it was written; something else dropped it.", object, c.Database()))
		}
		return v, false
	}
	if err != nil {
		addObjectError(diags, kind, "Read", object, c.Database(), err)
		return v, false
	}
	return v, true
}

// importServerRoleID sets id, server and role from a `server/role` import ID (either part
// double-quoted when it contains `/`; role PUBLIC, or public, for the public pseudo-role).
// what names the resource ("a user mapping") and public what PUBLIC means for it.
func importServerRoleID(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, what, public string) {
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
			fmt.Sprintf("The import ID of %s is `server/role` (role `PUBLIC` for %s; double-quote a part that contains `/`): %s.", what, public, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), postgres.JoinID('/', parts...))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("server"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("role"), parts[1])...)
}
