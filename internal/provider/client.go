package provider

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

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

// withStepLog reports the DDL steps made with ctx at DEBUG (TF_LOG=DEBUG): the step, the
// object and the database, never a value that could be secret.
func (c *Client) withStepLog(ctx context.Context) context.Context {
	return postgres.WithStepLogger(ctx, func(ctx context.Context, step, object string) {
		tflog.Debug(ctx, "pgshard: "+step, map[string]any{"object": object, "database": c.Database(), "host": c.conn.Host})
	})
}
