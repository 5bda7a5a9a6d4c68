package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// The parent a partition attaches to, as the two partition resources find and check it.

// partitionTarget resolves the parent of a planned partition and checks, before anything
// is created, that it is a partitioned table and that no DEFAULT rows block the bound
// (unless they are to be moved). It returns the parent and how many DEFAULT rows match.
func partitionTarget(ctx context.Context, client *Client, kind string, p postgres.Partition, move bool, diags *diag.Diagnostics) (*postgres.Table, int64) {
	db, err := client.DB()
	var parent *postgres.Table
	if err == nil {
		parent, err = postgres.ReadTable(ctx, db, p.ParentSchema, p.ParentName)
	}
	what := tablePhrase(kind, p.Schema, p.Name)
	switch {
	case errors.Is(err, postgres.ErrNotFound):
		diags.AddAttributeError(pathParent, kind+" Create Error", fmt.Sprintf(
			"Could not create %s in database %q: the parent %s.%s does not exist in that database. Create it first (pgshard_partitioned_table), "+
				"and check that the provider of this resource points at the same database as the parent's.", what, client.Database(), p.ParentSchema, p.ParentName))
		return nil, 0
	case err != nil:
		addObjectError(diags, kind, "Create", what, client.Database(), err)
		return nil, 0
	case parent.Kind != postgres.RelPartitioned:
		diags.AddAttributeError(pathParent, kind+" Create Error", fmt.Sprintf(
			"Could not create %s in database %q: the parent %s.%s is not a partitioned table. Partitions can only be attached to a table created with PARTITION BY (pgshard_partitioned_table).",
			what, client.Database(), p.ParentSchema, p.ParentName))
		return nil, 0
	}
	var n int64
	if !p.Bound.Default {
		var defName string
		defName, n, err = postgres.DefaultRowsMatching(ctx, db, parent, p.Bound)
		if err != nil {
			addObjectError(diags, kind, "Create", what, client.Database(), err)
			return nil, 0
		}
		if n > 0 && !move {
			diags.AddAttributeError(path.Root("move_rows_from_default"), kind+" Create Error", fmt.Sprintf(
				"Could not create %s in database %q: %d rows in the DEFAULT partition %s match its bound (%s), and PostgreSQL refuses a partition "+
					"whose rows sit in DEFAULT. Set move_rows_from_default = true to move those %d rows into the new partition in the same "+
					"transaction, or move them out of %s yourself, then apply again.",
				what, client.Database(), n, defName, p.Bound, n, defName))
			return nil, 0
		}
	}
	return parent, n
}

func sameTableID(a, b string) bool {
	as, an, err1 := parseTableID(a)
	bs, bn, err2 := parseTableID(b)
	return err1 == nil && err2 == nil && as == bs && an == bn
}

// parentValue is the state's parent: the prior spelling when it names the catalog's
// parent, "" when the partition is detached (which plans a replacement).
func parentValue(prior types.String, schema, name string) types.String {
	if name == "" {
		return types.StringValue("")
	}
	if !prior.IsNull() && !prior.IsUnknown() && sameTableID(prior.ValueString(), tableID(schema, name)) {
		return prior
	}
	return types.StringValue(tableID(schema, name))
}

var pathParent = path.Root("parent")
