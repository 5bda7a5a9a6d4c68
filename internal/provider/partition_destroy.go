package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// What destroying a partition does to its rows: refused at plan while rows would be lost,
// or moved into DEFAULT first (on_rows_outside_bound).

// refuseDestroyAtPlan fails the plan of a destroy (or replace) of a local table that still
// holds rows, unless its force_destroy (as applied, in state) allows it: refused while
// planning, nothing of the plan is carried out, so a destroy that would stop halfway never
// starts. Apply counts again, in the dropping transaction. With force_destroy the plan still
// shows what is dropped: a warning names each table and its rows.
func refuseDestroyAtPlan(ctx context.Context, client *Client, kind, action, schema, name string, force bool, diags *diag.Diagnostics) {
	planRowsDropped(ctx, client, kind, action, schema, name, force, "", diags)
}

// planRowsDropped is refuseDestroyAtPlan with why, a sentence saying why the plan drops the
// table ("" for an ordinary destroy or replace).
func planRowsDropped(ctx context.Context, client *Client, kind, action, schema, name string, force bool, why string, diags *diag.Diagnostics) {
	if !client.Known() {
		return
	}
	db, err := client.DB()
	var held []string
	if err == nil {
		held, err = postgres.RowsHeld(ctx, db, schema, name)
	}
	if why != "" {
		why += " "
	}
	switch {
	case err != nil && force:
		diags.AddWarning(kind+" "+action+" Rows Not Counted", fmt.Sprintf(
			"%sCould not count, while planning, the rows that the %s of %s.%s in database %q drops (force_destroy = true): %s. "+
				"Rows in its local tables are lost; rows in foreign partitions stay on the shards.", why, strings.ToLower(action), schema, name, client.Database(), reason(err)))
	case err != nil:
		addObjectError(diags, kind, "Plan", tablePhrase(strings.ToLower(kind), schema, name), client.Database(), err)
	case len(held) > 0 && force:
		diags.AddWarning(kind+" "+action+" Drops Rows", fmt.Sprintf(
			"%sThis plan would %s %s.%s in database %q with force_destroy = true, and the rows it holds are dropped with it and lost: %s (counted now).\n\n"+
				"To keep them, move them elsewhere before applying, or set force_destroy = false and apply that first. "+
				"Rows in foreign partitions live on the shards and are never dropped.",
			why, strings.ToLower(action), schema, name, client.Database(), strings.Join(held, ", ")))
	case len(held) > 0:
		diags.AddError(kind+" "+action+" Refused", fmt.Sprintf(
			"%sThis plan would %s %s.%s in database %q, which still holds rows that would be lost: %s.\n\n"+
				"Nothing has been changed: the plan was refused before any object was dropped. Move or delete the rows first, "+
				"or set force_destroy = true on this resource and apply that change, then run this again to drop it with its rows. "+
				"Rows in foreign partitions live on the shards and are never dropped.%s",
			why, strings.ToLower(action), schema, name, client.Database(), strings.Join(held, ", "), teardownHint(kind, action)))
	}
}

// teardownHint is the sentence a partition's refused destroy adds about the rest of a whole-stack
// destroy, which Terraform plans only once this refusal is gone: everything it needs, in one
// apply, before terraform destroy.
func teardownHint(kind, action string) string {
	if kind != "Partition" || action != "Destroy" {
		return ""
	}
	return "\n\nDestroying the whole stack? Apply these together first, then destroy: force_destroy = true on this resource and on its " +
		"pgshard_partitioned_table (whose own refusal Terraform plans only after this one), and on_rows_outside_bound = \"fail\" on every " +
		"foreign partition (else each pulls its shard's rows into DEFAULT before it goes; with modules/sharded-table: " +
		"moves_enabled = false and force_destroy = true). See the Teardown guide."
}

// planDestroyRows is the plan-time half of a partition's destroy: a DEFAULT partition, or one
// whose destroy moves its rows into DEFAULT, is noted, and refused when the same plan does
// both to one parent; a move shows its row count.
func planDestroyRows(ctx context.Context, client *Client, kind, schema, name, parent string, isDefault, moves bool, diags *diag.Diagnostics) {
	if conflict := client.plan.noteDestroy(parent, schema+"."+name, isDefault, moves); conflict != "" {
		diags.AddError(kind+" Destroy Refused", "Refusing this plan: "+conflict+". Nothing has been changed.")
		return
	}
	if !moves || !client.Known() {
		return
	}
	db, err := client.DB()
	var cur *postgres.Partition
	if err == nil {
		cur, err = postgres.ReadPartition(ctx, db, schema, name)
	}
	var n int64
	if err == nil && cur.ParentName != "" {
		n, err = postgres.RowsOutside(ctx, db, *cur, postgres.NoBound)
	}
	if err != nil && !errors.Is(err, postgres.ErrNotFound) {
		addObjectError(diags, kind, "Plan", tablePhrase(strings.ToLower(kind), schema, name), client.Database(), err)
		return
	}
	diags.AddWarning("Rows Move To DEFAULT", fmt.Sprintf("Destroying %s.%s moves its %d rows (counted now) into the DEFAULT partition of %s first (on_rows_outside_bound = \"move_to_default\").",
		schema, name, n, parent))
}

// deleteMovingRows moves a partition's rows into DEFAULT before it is dropped, when its
// on_rows_outside_bound says so and the parent still has a DEFAULT partition.
func deleteMovingRows(ctx context.Context, client *Client, schema, name string, managed bool) error {
	db, err := client.DB()
	if err != nil {
		return err
	}
	cur, err := postgres.ReadPartition(ctx, db, schema, name)
	if errors.Is(err, postgres.ErrNotFound) || err == nil && cur.ParentName == "" {
		return nil
	}
	if err != nil {
		return err
	}
	p := *cur
	p.Bound = postgres.NoBound
	_, err = postgres.MoveToDefault(ctx, db, p, cur.Bound, managed)
	return err
}
