package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Client is what Configure hands every resource: the resolved connection settings and the
// pools shared by all of them. It connects lazily.
type Client struct {
	conn    postgres.ConnConfig
	pools   *postgres.Pools
	unknown bool

	// The provider block as configured, and the provider's version: a list resource reads
	// each object it finds through a provider of its own (list.go).
	config  tftypes.Value
	version string

	// analyze says whether foreign partitions are analyzed after pgshard writes them
	// (analyze_foreign_partitions).
	analyze bool

	// plan is what the plan of this process has seen of destroys and moves between
	// partitions (plan_registry.go).
	plan planRegistry
}

// Known reports whether the connection settings are known. During a plan that creates the
// database server in the same run they are not, and reads keep prior state.
func (c *Client) Known() bool { return c != nil && !c.unknown }

// DB returns the pool of the provider's database.
func (c *Client) DB() (*postgres.DB, error) {
	if c.unknown {
		return nil, fmt.Errorf("the provider's connection settings are not known yet (they depend on resources not yet created); this operation needs them")
	}
	return c.pools.DB(c.conn)
}

// Reader returns the coalescing catalog reader of the provider's database (see
// postgres.Reader): reads of servers and user mappings that arrive together share a query.
func (c *Client) Reader() (*postgres.Reader, error) {
	if c.unknown {
		return nil, fmt.Errorf("the provider's connection settings are not known yet (they depend on resources not yet created); this operation needs them")
	}
	return c.pools.Reader(c.conn)
}

// enter admits one operation on the provider's database (postgres.Pools.Enter): while
// every connection is busy it waits a moment for one rather than open another at once.
// The returned function ends the operation; it is never nil.
func (c *Client) enter(ctx context.Context) func() {
	if c == nil || c.unknown {
		return func() {}
	}
	release, err := c.pools.Enter(ctx, c.conn)
	if err != nil {
		return func() {} // the operation then fails on its own, with its own words
	}
	return release
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

// withStepLog reports the steps made with ctx: a change's DDL at DEBUG (TF_LOG=DEBUG), the
// progress of a move at INFO; with the object and the database, never a value that could be
// secret.
func (c *Client) withStepLog(ctx context.Context) context.Context {
	return postgres.WithStepLogger(ctx, func(ctx context.Context, s postgres.Step) {
		fields := map[string]any{"object": s.Object, "database": c.Database(), "host": c.conn.Host}
		if s.Progress {
			tflog.Info(ctx, "pgshard: "+s.Text, fields)
			return
		}
		tflog.Debug(ctx, "pgshard: "+s.Text, fields)
	})
}
