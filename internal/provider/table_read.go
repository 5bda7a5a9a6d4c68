package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Reading, destroying and replacing a table, shared by the table and partition resources.

// readTable reads a table for a resource; false with no diagnostics means it is gone.
func readTable(ctx context.Context, client *Client, kind, schema, name, action string, diags *diag.Diagnostics) (*postgres.Table, bool) {
	return readObject(ctx, client, kind, tablePhrase(strings.ToLower(kind), schema, name), action, diags, func(ctx context.Context, db *postgres.DB) (*postgres.Table, error) {
		return postgres.ReadTable(ctx, db, schema, name)
	})
}

// deleteTable drops a table, refusing while local rows would be lost unless forced.
func deleteTable(ctx context.Context, client *Client, kind, schema, name string, force bool, diags *diag.Diagnostics) {
	db, err := client.DB()
	if err == nil {
		err = postgres.DropTable(ctx, db, schema, name, force)
	}
	var loss *postgres.LossError
	if errors.As(err, &loss) {
		diags.AddError(kind+" Delete Error", fmt.Sprintf(
			"Refusing to drop %s.%s in database %q: it still holds %s, which would be lost.\n\n"+
				"Move or delete the rows first, or set force_destroy = true (and apply) to drop it with its rows. "+
				"Rows in foreign partitions live on the shards and are never dropped.",
			schema, name, client.Database(), strings.Join(loss.Held, ", ")))
		return
	}
	if err != nil {
		addObjectError(diags, kind, "Delete", tablePhrase(strings.ToLower(kind), schema, name), client.Database(), err)
	}
}

// planTaintedTable runs a destroy's plan-time checks for a create of a table that exists
// already: Terraform plans a tainted resource's replacement as a plain create (no prior
// state), and the destroy half would otherwise drop its rows without a count.
func planTaintedTable(ctx context.Context, client *Client, kind string, plan tfsdk.Plan, diags *diag.Diagnostics) {
	var schemaName, name types.String
	var force types.Bool
	diags.Append(plan.GetAttribute(ctx, path.Root("schema"), &schemaName)...)
	diags.Append(plan.GetAttribute(ctx, path.Root("name"), &name)...)
	diags.Append(plan.GetAttribute(ctx, path.Root("force_destroy"), &force)...)
	if diags.HasError() || schemaName.IsUnknown() || name.IsUnknown() || force.IsUnknown() || !client.Known() {
		return
	}
	db := planDB(client) // a tainted resource was refreshed: the pool has connected
	if db == nil {
		return
	}
	if _, err := postgres.ReadTable(ctx, db, schemaName.ValueString(), name.ValueString()); err != nil {
		return // not there (the ordinary create), or unreadable: the create says so
	}
	self := tableID(schemaName.ValueString(), name.ValueString())
	why := fmt.Sprintf("Terraform plans to create %s, which exists already in database %q: the resource is tainted, and its replacement destroys it first "+
		"(or it is not in the state, and the create would fail: import it instead).", self, client.Database())
	planRowsDropped(ctx, client, kind, "Replace", schemaName.ValueString(), name.ValueString(), force.ValueBool(), why, diags)
}
