package provider

import (
	"context"
	"errors"
	"fmt"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Helpers shared by pgshard_foreign_partition and pgshard_partition.

// partitionAttributes are the attributes every partition resource has, bounds included.
func partitionAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			MarkdownDescription: "`schema.name`.",
			Computed:            true,
			PlanModifiers:       []planmodifier.String{tableIDFromName{}},
		},
		"parent": schema.StringAttribute{
			MarkdownDescription: "The partitioned table, as `schema.name` (a bare name is in `public`), usually `pgshard_partitioned_table.x.id`. " +
				"Changed in place: the partition is detached from its parent and attached to the new one in one transaction, with its rows. " +
				"A partition detached out of band is attached again the same way.",
			Required:      true,
			Validators:    []validator.String{tableIDValidator{}},
			PlanModifiers: []planmodifier.String{sameTable{}},
		},
		"schema": schema.StringAttribute{
			MarkdownDescription: "Schema of the partition. Default `public`. Changed in place (`ALTER ... SET SCHEMA`), with its rows.",
			Optional:            true,
			Computed:            true,
			Default:             stringdefault.StaticString("public"),
			Validators:          []validator.String{identifier{}},
		},
		"name": schema.StringAttribute{
			MarkdownDescription: "Partition name (at most 63 bytes). Changed in place (`ALTER ... RENAME TO`), with its rows; a shard table keeps its name.",
			Required:            true,
			Validators:          []validator.String{identifier{}},
		},
	}
	attrs["move_rows_from_default"] = schema.BoolAttribute{
		MarkdownDescription: "When the parent's DEFAULT partition already holds rows this partition's bound takes (a region added after " +
			"its rows arrived), create the partition detached, move those rows into it (through the foreign server for a shard), " +
			"delete them from DEFAULT and attach it, all in one transaction. Without it such a create fails, naming the row count. " +
			"LIST and RANGE bounds only. Default `false`. Only used at create.",
		Optional: true,
		Computed: true,
		Default:  booldefault.StaticBool(false),
	}
	for k, v := range boundAttributes() {
		attrs[k] = v
	}
	return attrs
}

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

// refuseDestroyAtPlan fails the plan of a destroy (or replace) of a local table that still
// holds rows, unless its force_destroy (as applied, in state) allows it: refused while
// planning, nothing of the plan is carried out, so a destroy that would stop halfway never
// starts. Apply counts again, in the dropping transaction.
func refuseDestroyAtPlan(ctx context.Context, client *Client, kind, action, schema, name string, force bool, diags *diag.Diagnostics) {
	if force || !client.Known() {
		return
	}
	db, err := client.DB()
	var held []string
	if err == nil {
		held, err = postgres.RowsHeld(ctx, db, schema, name)
	}
	if err != nil {
		addObjectError(diags, kind, "Plan", tablePhrase(strings.ToLower(kind), schema, name), client.Database(), err)
		return
	}
	if len(held) > 0 {
		diags.AddError(kind+" "+action+" Refused", fmt.Sprintf(
			"This plan would %s %s.%s in database %q, which still holds rows that would be lost: %s.\n\n"+
				"Nothing has been changed: the plan was refused before any object was dropped. Move or delete the rows first, "+
				"or set force_destroy = true on this resource and apply that change, then run this again to drop it with its rows. "+
				"Rows in foreign partitions live on the shards and are never dropped.",
			strings.ToLower(action), schema, name, client.Database(), strings.Join(held, ", ")))
	}
}
