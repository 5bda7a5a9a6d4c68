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
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// The plan-time half of a partition's create: the catalog read while planning, when the
// plan has connected, so that a create that would fail or move rows says so at plan.

// createPlan is what the plan of a partition's create says, read attribute by attribute:
// others (remote_identity, options) may be unknown while planning.
type createPlan struct {
	p                         postgres.Partition
	move, force               bool   // move_rows_from_default, force_destroy (pgshard_partition)
	onRows                    string // on_rows_outside_bound
	remoteSchema, remoteTable string // pgshard_foreign_partition
	identityKnown             bool   // remote_identity is known (c.p.ShardIdentity)
}

// readCreatePlan reads a planned partition; false when something it needs is unknown yet.
func readCreatePlan(ctx context.Context, plan tfsdk.Plan, foreign bool, diags *diag.Diagnostics) (createPlan, bool) {
	var c createPlan
	var move, force types.Bool
	var b boundModel
	var parentID, schemaName, name, onRows, server, remoteSchema, remoteTable types.String
	attrs := map[string]any{
		"move_rows_from_default": &move, "on_rows_outside_bound": &onRows, "parent": &parentID, "schema": &schemaName, "name": &name,
		"values_in": &b.ValuesIn, "values_from": &b.ValuesFrom, "values_to": &b.ValuesTo, "modulus": &b.Modulus, "remainder": &b.Remainder, "is_default": &b.IsDefault,
	}
	var identity types.Object
	if foreign {
		attrs["server"], attrs["remote_schema"], attrs["remote_table"], attrs["remote_identity"] = &server, &remoteSchema, &remoteTable, &identity
	} else {
		attrs["force_destroy"] = &force
	}
	for attr, into := range attrs {
		if d := plan.GetAttribute(ctx, path.Root(attr), into); d.HasError() {
			return c, false
		}
	}
	for _, v := range []types.String{parentID, schemaName, name, server, remoteSchema, remoteTable} {
		if v.IsUnknown() {
			return c, false
		}
	}
	if !b.boundKnown() {
		return c, false
	}
	parentSchema, parentName, err := parseTableID(parentID.ValueString())
	if err != nil {
		return c, false
	}
	c.p = postgres.Partition{Schema: schemaName.ValueString(), Name: name.ValueString(), ParentSchema: parentSchema, ParentName: parentName,
		Bound: b.toBound(ctx, diags), Foreign: foreign, Server: server.ValueString()}
	c.move, c.force, c.onRows = move.ValueBool(), force.ValueBool(), onRows.ValueString()
	c.remoteSchema, c.remoteTable = remoteSchema.ValueString(), remoteTable.ValueString()
	c.identityKnown = !unknownInside(identity)
	c.p.ShardIdentity = identityOf(ctx, identity, diags)
	return c, true
}

// planDB is the pool for the plan-time checks of a create, nil when nothing of this plan
// has connected to the database yet: what the create needs (the parent, maybe the database
// server itself) comes in this plan too, so there is nothing to check, and not connecting
// keeps a first plan from waiting for a server that does not exist yet.
func planDB(client *Client) *postgres.DB {
	if !client.Known() {
		return nil
	}
	db, err := client.DB()
	if err != nil || db.Stats().OpenConnections == 0 {
		return nil
	}
	return db
}

// planCreate is the plan-time half of a partition's create, made whenever the database can
// be read while planning: it refuses a bound whose rows sit in DEFAULT (unless
// move_rows_from_default, when it shows them per key), runs the destroy's checks when the
// partition exists already (a tainted resource, which Terraform replaces: the framework
// gives its ModifyPlan a null prior state, as for any create), and names the sequences that
// attaching a shard table holding rows sets past their ids.
func planCreate(ctx context.Context, client *Client, kind string, plan tfsdk.Plan, diags *diag.Diagnostics) {
	c, ok := readCreatePlan(ctx, plan, kind == kindForeignPartition, diags)
	db := planDB(client)
	if !ok || db == nil {
		return
	}
	existing, err := postgres.ReadPartition(ctx, db, c.p.Schema, c.p.Name)
	var unreachable *postgres.ConnectError
	switch {
	case errors.As(err, &unreachable):
		return // the database server comes in this plan too
	case err == nil && existing.Foreign == c.p.Foreign:
		planReplaceExisting(ctx, client, db, kind, c, existing, diags)
	}
	if c.p.Bound.Default {
		return
	}
	parent, err := postgres.ReadTable(ctx, db, c.p.ParentSchema, c.p.ParentName)
	if errors.Is(err, postgres.ErrNotFound) || err == nil && parent.PartitionBy == nil || errors.As(err, &unreachable) {
		return // the parent comes in this plan too: nothing is in its DEFAULT
	}
	if err == nil {
		err = planDefaultRows(ctx, client, db, kind, c, parent, diags)
	}
	if err != nil {
		diags.AddWarning("Rows Of DEFAULT Not Counted", fmt.Sprintf("Could not count, while planning, the DEFAULT rows that %s.%s would take: %s. "+
			"The apply counts them again: it moves them with move_rows_from_default = true, and fails without it.", c.p.Schema, c.p.Name, reason(err)))
		return
	}
	if c.p.Foreign && existing == nil && c.identityKnown {
		planAdoptedIds(ctx, db, c, diags)
	}
}

// kindForeignPartition is how diagnostics name pgshard_foreign_partition.
const kindForeignPartition = "Foreign Partition"

// planDefaultRows counts the rows of the parent's DEFAULT partition that the new partition's
// bound takes: without move_rows_from_default any of them refuses the create now, before
// the apply creates what comes before it (a foreign server, a user mapping) and then stops
// at them; with it, the plan shows them per key, with the rows another partition of this
// plan moves into DEFAULT for it (a split).
func planDefaultRows(ctx context.Context, client *Client, db *postgres.DB, kind string, c createPlan, parent *postgres.Table, diags *diag.Diagnostics) error {
	def, n, err := postgres.DefaultRowsMatching(ctx, db, parent, c.p.Bound)
	var keys []postgres.KeyRows
	if check := c.p.Bound.CheckSQL(postgres.KeySQL(parent.PartitionBy.Key)); err == nil && n > 0 && check != "" {
		keys, err = postgres.DefaultRowsByKey(ctx, db, parent, def, check)
	}
	if err != nil {
		return err
	}
	self := tableID(c.p.Schema, c.p.Name)
	if !c.move {
		if n > 0 {
			diags.AddAttributeError(path.Root("move_rows_from_default"), kind+" Create Refused", fmt.Sprintf(
				"Could not plan the create of %s in database %q: %d rows in the DEFAULT partition %s match its bound (%s) (counted now), and PostgreSQL "+
					"refuses a partition whose rows sit in DEFAULT: the apply would fail, after creating the resources this one depends on. Nothing has been changed.\n\n"+
					"Set move_rows_from_default = true to move those %d rows into the new partition in the same transaction, or move them out of %s yourself, then plan again.\n\n%s",
				self, client.Database(), n, def, c.p.Bound, n, def, takenKeys(keys, nil, self)))
		}
		return nil
	}
	givers := client.plan.noteKeysTaken(tableID(c.p.ParentSchema, c.p.ParentName), self, newListKeys(postgres.Bound{}, c.p.Bound))
	if len(keys) > 0 || len(givers) > 0 {
		diags.AddWarning("Rows Move From DEFAULT", fmt.Sprintf("Creating %s moves rows of the DEFAULT partition into it (move_rows_from_default): deleted from DEFAULT and inserted into it by one statement, in the transaction that attaches it.\n\n%s",
			self, takenKeys(keys, givers, self)))
	}
	return nil
}

// planReplaceExisting runs, for a create of a partition that exists already, what the
// destroy Terraform runs first would refuse or show: rows dropped with a local partition,
// rows a foreign partition moves into DEFAULT (which the create would then find there).
// Terraform replaces a tainted resource as a create, with no destroy plan of its own.
func planReplaceExisting(ctx context.Context, client *Client, db *postgres.DB, kind string, c createPlan, existing *postgres.Partition, diags *diag.Diagnostics) {
	self := tableID(c.p.Schema, c.p.Name)
	why := fmt.Sprintf("Terraform plans to create %s, which exists already in database %q: the resource is tainted, and its replacement destroys it first "+
		"(or it is not in the state, and the create would fail: import it instead).", self, client.Database())
	moves := c.onRows == moveToDefault && existing.ParentName != "" && !existing.Bound.Default
	switch {
	case moves:
		n, err := postgres.RowsOutside(ctx, db, *existing, postgres.NoBound)
		if err != nil {
			addObjectError(diags, kind, "Plan", tablePhrase(strings.ToLower(kind), c.p.Schema, c.p.Name), client.Database(), err)
			return
		}
		if n > 0 && !c.move {
			diags.AddAttributeError(path.Root("move_rows_from_default"), kind+" Replace Refused", fmt.Sprintf(
				"%s The destroy moves its %d rows (counted now) into the DEFAULT partition of %s (on_rows_outside_bound = \"move_to_default\"), and the create "+
					"that follows would find them there and fail. Nothing has been changed. Set move_rows_from_default = true, so that the create takes them back, "+
					"or on_rows_outside_bound = \"fail\", so that they stay where they are, then plan again.", why, n, tableID(existing.ParentSchema, existing.ParentName)))
			return
		}
		diags.AddWarning("Rows Move To DEFAULT", fmt.Sprintf("%s The destroy moves its %d rows (counted now) into the DEFAULT partition of %s first, and the create takes them back (move_rows_from_default).",
			why, n, tableID(existing.ParentSchema, existing.ParentName)))
	case existing.Foreign:
		diags.AddWarning("Shard Rows Stay On The Shard", fmt.Sprintf("%s The destroy drops only the local foreign table: the rows of its shard table stay on server %q, "+
			"and the create attaches the shard table again.", why, existing.Server))
	default:
		planRowsDropped(ctx, client, kind, "Replace", c.p.Schema, c.p.Name, c.force, why, diags)
	}
}

// planAdoptedIds says which of the parent's sequences attaching a shard table that already
// holds rows (a stack destroyed and applied again) sets past their ids. The shard is read
// through the foreign server; when that cannot be done yet (the server or its mapping come in
// this plan, the shard table does not exist), the plan says nothing, and the apply still
// advances the sequences.
func planAdoptedIds(ctx context.Context, db *postgres.DB, c createPlan, diags *diag.Diagnostics) {
	advances, err := postgres.ShardSequencesToAdvance(ctx, db, c.p.ParentSchema, c.p.ParentName, c.p.Server, c.remoteSchema, c.remoteTable, c.p.ShardIdentity)
	if err != nil {
		tflog.Debug(ctx, "pgshard: the ids of the shard table were not read while planning", map[string]any{"partition": c.p.Schema + "." + c.p.Name, "error": err.Error()})
		return
	}
	addSequenceWarning(diags, tableID(c.p.Schema, c.p.Name), fmt.Sprintf("shard table %s.%s on server %q", c.remoteSchema, c.remoteTable, c.p.Server),
		tableID(c.p.ParentSchema, c.p.ParentName), advances)
}

// addSequenceWarning tells, in the plan, which sequences attaching partition (reading
// source) sets past the ids it holds.
func addSequenceWarning(diags *diag.Diagnostics, partition, source, parent string, advances []postgres.SequenceAdvance) {
	if len(advances) == 0 {
		return
	}
	lines := make([]string, len(advances))
	for i, a := range advances {
		lines[i] = fmt.Sprintf("  sequence %s (column %q): set past %d, so the next id is %d or above", a.Sequence, a.Column, a.Past, a.Past+1)
	}
	diags.AddWarning("Sequences Move Past Adopted Ids", fmt.Sprintf("Attaching %s to %s adopts the rows of %s, whose ids go past what the parent's sequences would hand out next "+
		"(read now). The apply sets them past the largest id held, in the attaching transaction, so that rows inserted through %s never repeat an id:\n%s",
		partition, parent, source, parent, strings.Join(lines, "\n")))
}
