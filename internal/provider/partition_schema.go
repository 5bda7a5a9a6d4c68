package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// The schema attributes pgshard_foreign_partition and pgshard_partition share.

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
			"its rows arrived, or a bound widened over keys that another shard gave to DEFAULT), move those rows into this partition " +
			"(through the foreign server for a shard): copied, verified by count, deleted from DEFAULT and the partition " +
			"attached with its bound, in one transaction. For a foreign partition the table stays online: meanwhile DEFAULT refuses new rows of the " +
			"moving keys (a constraint `pgshard_moving_<partition>_<hash>`, named in the error) and only the switch locks the parent; a local partition's " +
			"bound update moves them under the parent's lock. Works at create and on a bound update. Without it such a change fails at plan, " +
			"naming the row count. LIST and RANGE bounds only. Default `false`.",
		Optional: true,
		Computed: true,
		Default:  booldefault.StaticBool(false),
	}
	attrs["on_rows_outside_bound"] = schema.StringAttribute{
		MarkdownDescription: "What a bound update that narrows the bound does with the rows it leaves outside: `\"fail\"` (default: the plan fails, " +
			"naming the count) or `\"move_to_default\"`: they move into the parent's DEFAULT partition (copied, verified by count, deleted from the " +
			"partition and switched in one base transaction; for a foreign partition the table stays online until the switch, which inserts the rows " +
			"into DEFAULT, and a managed shard's CHECK refuses new rows of the leaving keys from the start), and when the partition is destroyed, all its rows do, so that a shard can be merged " +
			"away. A move stopped before its switch (a crash, Ctrl-C) is undone by the next refresh and made again by the apply that configures it. Not for a DEFAULT partition, and only when the parent has one. The plan shows, per key, the rows that move " +
			"(counted exactly on the shard while planning), the source and the target. " +
			"A whole-stack destroy that would move rows into a DEFAULT partition it also destroys is refused at plan. " +
			"To move keys between two shards, the giver narrows with `move_to_default` and the receiver widens with `move_rows_from_default`, " +
			"the receiver declaring `depends_on` the giver (see the Resharding guide).",
		Optional:   true,
		Computed:   true,
		Default:    stringdefault.StaticString(moveFail),
		Validators: []validator.String{stringvalidator.OneOf(moveFail, moveToDefault)},
	}
	for k, v := range boundAttributes() {
		attrs[k] = v
	}
	return attrs
}
