package provider

import (
	"context"
	"errors"

	"database/sql"
	"fmt"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Client is what Configure hands every resource: the resolved connection settings and the
// pools shared by all of them. It connects lazily.
type Client struct {
	conn    postgres.ConnConfig
	pools   *postgres.Pools
	unknown bool
}

// Known reports whether the connection settings are known. During a plan that creates the
// database server in the same run they are not, and reads keep prior state.
func (c *Client) Known() bool { return c != nil && !c.unknown }

// DB returns the pool of the provider's database.
func (c *Client) DB() (*sql.DB, error) {
	if c.unknown {
		return nil, fmt.Errorf("the provider's connection settings are not known yet (they depend on resources not yet created); this operation needs them")
	}
	return c.pools.DB(c.conn)
}

// Database names the provider's database, for messages.
func (c *Client) Database() string { return c.conn.Database }

// clientFrom converts provider data to a *Client, reporting a bug when it is something else.
func clientFrom(data any, diags *diag.Diagnostics) *Client {
	if data == nil {
		return nil // provider not configured yet (validation)
	}
	c, ok := data.(*Client)
	if !ok {
		diags.AddError("Unexpected Provider Data", fmt.Sprintf("Expected *provider.Client, got %T. Please report this issue to the provider developers.", data))
		return nil
	}
	return c
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
