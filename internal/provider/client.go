package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"

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

	// destroys seen while planning, by parent: Terraform plans every resource of a run in
	// this one process, so a destroy that moves rows into a DEFAULT partition that the same
	// plan destroys is caught whichever of the two is planned second.
	mu             sync.Mutex
	defaultsGoing  map[string]string   // parent -> its DEFAULT partition being destroyed
	movingIntoGone map[string][]string // parent -> partitions whose destroy moves rows into DEFAULT

	// keys moving between partitions through DEFAULT in this plan, by parent and key (as
	// postgres.KeyRows prints it), so that the plan of either side names the other.
	keysLeaving map[string]map[string]keyLeaving
	keysTaken   map[string]map[string]string // parent -> key -> partition taking it from DEFAULT
}

// keyLeaving is a key whose rows a partition moves into DEFAULT in this plan.
type keyLeaving struct {
	partition string
	rows      int64
}

// noteKeysLeaving records keys that partition moves into DEFAULT, and returns the partition
// that this plan has already seen taking each of them from DEFAULT.
func (c *Client) noteKeysLeaving(parent, partition string, keys []postgres.KeyRows) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keysLeaving == nil {
		c.keysLeaving = map[string]map[string]keyLeaving{}
	}
	if c.keysLeaving[parent] == nil {
		c.keysLeaving[parent] = map[string]keyLeaving{}
	}
	takers := map[string]string{}
	for _, k := range keys {
		c.keysLeaving[parent][k.Key] = keyLeaving{partition, k.Rows}
		if t, ok := c.keysTaken[parent][k.Key]; ok {
			takers[k.Key] = t
		}
	}
	return takers
}

// noteKeysTaken records keys that partition takes from DEFAULT, and returns what this plan
// has already seen another partition move into DEFAULT of each.
func (c *Client) noteKeysTaken(parent, partition string, keys []string) map[string]keyLeaving {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keysTaken == nil {
		c.keysTaken = map[string]map[string]string{}
	}
	if c.keysTaken[parent] == nil {
		c.keysTaken[parent] = map[string]string{}
	}
	givers := map[string]keyLeaving{}
	for _, k := range keys {
		c.keysTaken[parent][k] = partition
		if g, ok := c.keysLeaving[parent][k]; ok {
			givers[k] = g
		}
	}
	return givers
}

// noteDestroy records a planned destroy of a partition of parent: the DEFAULT one, or one
// that moves its rows into DEFAULT. It says what conflicts, "" when nothing does.
func (c *Client) noteDestroy(parent, partition string, isDefault, movesToDefault bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.defaultsGoing == nil {
		c.defaultsGoing, c.movingIntoGone = map[string]string{}, map[string][]string{}
	}
	switch {
	case isDefault:
		c.defaultsGoing[parent] = partition
	case movesToDefault:
		c.movingIntoGone[parent] = append(c.movingIntoGone[parent], partition)
	default:
		return ""
	}
	if def, ok := c.defaultsGoing[parent]; ok && len(c.movingIntoGone[parent]) > 0 {
		return fmt.Sprintf("this plan destroys the DEFAULT partition %s of %s and also %s, whose destroy moves its rows into that DEFAULT partition "+
			"(on_rows_outside_bound = \"move_to_default\"): the rows would be pulled into the base and dropped with it. Set on_rows_outside_bound = \"fail\" "+
			"on %s and apply that first (its rows then stay on the shard), or keep the DEFAULT partition",
			def, parent, strings.Join(c.movingIntoGone[parent], ", "), strings.Join(c.movingIntoGone[parent], ", "))
	}
	return ""
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
