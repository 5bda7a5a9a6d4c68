package provider

// The read and write paths every resource shares.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
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
type applyFunc[M any] func(ctx context.Context, db *sql.DB, plan, prior *M, diags *diag.Diagnostics) (object string, err error)

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
	read func(context.Context, *sql.DB) (T, error)) (T, bool) {
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
