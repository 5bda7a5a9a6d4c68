package provider

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Helpers shared by the table and partition resources.

func tablePhrase(kind, schema, name string) string {
	return fmt.Sprintf("%s %q", kind, schema+"."+name)
}

// readTable reads a table for a resource; false with no diagnostics means it is gone.
func readTable(ctx context.Context, client *Client, kind, schema, name, action string, diags *diag.Diagnostics) (*postgres.Table, bool) {
	return readObject(ctx, client, kind, tablePhrase(strings.ToLower(kind), schema, name), action, diags, func(ctx context.Context, db *sql.DB) (*postgres.Table, error) {
		return postgres.ReadTable(ctx, db, schema, name)
	})
}

// deleteTable drops a table, refusing while local rows would be lost unless forced.
func deleteTable(ctx context.Context, client *Client, kind, schema, name string, force bool, diags *diag.Diagnostics) {
	db, err := client.DB()
	if err == nil {
		err = postgres.DropTable(ctx, db, schema, name, force)
	}
	var held *postgres.ErrHoldsRows
	if errors.As(err, &held) {
		diags.AddError(kind+" Delete Error", fmt.Sprintf(
			"Refusing to drop %s.%s in database %q: %s, which would be lost.\n\n"+
				"Move or delete the rows first, or set force_destroy = true (and apply) to drop it with its rows. "+
				"Rows in foreign partitions live on the shards and are never dropped.",
			schema, name, client.Database(), held.Error()))
		return
	}
	if err != nil {
		addObjectError(diags, kind, "Delete", tablePhrase(strings.ToLower(kind), schema, name), client.Database(), err)
	}
}

// importTableID sets id, schema and name from a `schema.name` import ID.
func importTableID(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, kind string) {
	schemaName, name, err := parseTableID(req.ID)
	if err == nil {
		err = postgres.CheckIdentifier(schemaName)
	}
	if err == nil {
		err = postgres.CheckIdentifier(name)
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of a %s is schema.name (either part may be double-quoted): %s.", kind, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), tableID(schemaName, name))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("schema"), schemaName)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
