package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

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

// The values of on_rows_outside_bound.
const (
	moveFail      = "fail"
	moveToDefault = "move_to_default"
)

// validateMove refuses move_to_default on a DEFAULT partition.
func validateMove(ctx context.Context, config interface {
	GetAttribute(context.Context, path.Path, any) diag.Diagnostics
}, diags *diag.Diagnostics) {
	var onRows types.String
	var isDefault types.Bool
	diags.Append(config.GetAttribute(ctx, path.Root("on_rows_outside_bound"), &onRows)...)
	diags.Append(config.GetAttribute(ctx, path.Root("is_default"), &isDefault)...)
	if onRows.ValueString() == moveToDefault && isDefault.ValueBool() {
		diags.AddAttributeError(path.Root("on_rows_outside_bound"), "Invalid Row Move",
			`on_rows_outside_bound = "move_to_default" moves rows into the DEFAULT partition; this partition is the DEFAULT. Remove it, or use "fail".`)
	}
}

// boundMove is what a bound update does with rows: none, out to DEFAULT, or in from it.
type boundMove struct {
	toDefault, fromDefault bool
	rows                   int64
	pending                int64 // rows of a move left half done, in its journal on the base
}

// planBoundMove works out, from the catalog, whether changing partition cur's bound to
// to.Bound moves rows and how many, and refuses what the configuration does not allow:
// rows left outside a narrowed bound without move_to_default, DEFAULT rows under a widened
// bound without move_rows_from_default, both at once, or a move with no DEFAULT.
func planBoundMove(ctx context.Context, db *postgres.DB, cur *postgres.Partition, to postgres.Partition, onRows string, fromDefault bool) (boundMove, error) {
	var m boundMove
	if cur.ParentName == "" || cur.Bound.Default || to.Bound.Default {
		return m, nil
	}
	var err error
	if to.Bound, err = postgres.CanonicalBound(ctx, db, cur.ParentSchema, cur.ParentName, to.Bound); err != nil {
		return m, err
	}
	if cur.Bound.Equal(to.Bound) {
		return m, nil
	}
	outside, err := postgres.RowsOutside(ctx, db, *cur, to.Bound)
	if err != nil {
		return m, err
	}
	parent, err := postgres.ReadTable(ctx, db, cur.ParentSchema, cur.ParentName)
	if err != nil {
		return m, err
	}
	def, entering, err := postgres.DefaultRowsMatching(ctx, db, parent, to.Bound)
	if err != nil {
		return m, err
	}
	// A move to DEFAULT that an earlier apply left half done (its journal holds rows that left
	// the shard) is finished by this one, whatever on_rows_outside_bound says now: those rows
	// are visible nowhere until it is.
	pending, found, err := postgres.PendingMove(ctx, db, *cur)
	if err != nil {
		return m, err
	}
	// (While the shard still holds rows outside the new bound, a journal is a copy of them
	// that the move makes again: an attempt interrupted before the switch.)
	if found && pending > 0 && outside == 0 && entering == 0 {
		if def == "" {
			return m, fmt.Errorf("a move of %s.%s left half done holds %d rows in its journal, and the parent has no DEFAULT partition to finish it into", cur.Schema, cur.Name, pending)
		}
		m.toDefault, m.rows, m.pending = true, pending, pending
		return m, nil
	}
	switch {
	case outside > 0 && entering > 0:
		return m, fmt.Errorf("the new bound both leaves %d rows of %s.%s outside and takes %d rows of the DEFAULT partition: change the bound in two applies, one narrowing and one widening", outside, cur.Schema, cur.Name, entering)
	case outside > 0 && onRows != moveToDefault:
		return m, fmt.Errorf("%d rows of %s.%s fall outside the new bound %s. Set on_rows_outside_bound = \"move_to_default\" to move them into the DEFAULT partition, or choose a bound that keeps them", outside, cur.Schema, cur.Name, to.Bound)
	case outside > 0 && def == "":
		return m, fmt.Errorf("%d rows of %s.%s fall outside the new bound, and the parent has no DEFAULT partition to move them into", outside, cur.Schema, cur.Name)
	case entering > 0 && !fromDefault:
		return m, fmt.Errorf("%d rows in the DEFAULT partition %s fall inside the new bound %s of %s.%s, and PostgreSQL refuses a bound whose rows sit in DEFAULT. Set move_rows_from_default = true to move them in", entering, def, to.Bound, cur.Schema, cur.Name)
	}
	m.toDefault, m.fromDefault = outside > 0, entering > 0
	m.rows = outside + entering
	return m, nil
}

// pendingMoveError: a move's journal holds rows, and the plan does not finish that move.
type pendingMoveError struct {
	schema, name string
	rows         int64
}

func (e *pendingMoveError) Error() string {
	return fmt.Sprintf("a move of %s.%s into DEFAULT was left half done: its journal %s on the base holds %d rows that are neither on the shard nor in DEFAULT "+
		"(counted now, row by row), so they are visible nowhere through the parent. Apply the narrower bound that move was making (with on_rows_outside_bound = \"move_to_default\"), "+
		"which finishes it; or refresh with the provider able to reach the shard, which puts them back onto the shard",
		e.schema, e.name, postgres.TruncateIdentifier("pgshard_move_"+e.name, ""), e.rows)
}

// updateMovingRows updates a partition (now named priorSchema.priorName) to `to`. When the
// bound change moves rows (see planBoundMove), update first changes everything but the
// bound, and the move then changes the bound (and a managed shard's CHECK) with the rows;
// moved says rows moved.
func updateMovingRows(ctx context.Context, db *postgres.DB, priorSchema, priorName string, to postgres.Partition, onRows string, fromDefault, managed bool,
	update func(first postgres.Partition) error) (moved bool, err error) {
	cur, err := postgres.ReadPartition(ctx, db, priorSchema, priorName)
	if err != nil {
		return false, err
	}
	m, err := planBoundMove(ctx, db, cur, to, onRows, fromDefault)
	if err != nil {
		return false, err
	}
	first := to
	if m.rows > 0 {
		first.Bound = cur.Bound
	}
	if err := update(first); err != nil || m.rows == 0 {
		return false, err
	}
	if m.toDefault {
		_, err = postgres.MoveToDefault(ctx, db, to, cur.Bound, managed)
	} else {
		_, err = postgres.MoveFromDefault(ctx, db, to, cur.Bound, managed)
	}
	return err == nil, err
}

// planRowMoves is the plan-time half of a partition's bound update: it reads the partition
// (by its prior name) and says in the plan how many rows move and which way, or refuses
// what the configuration does not allow, before anything changes.
func planRowMoves(ctx context.Context, client *Client, kind, schema, name string, to postgres.Partition, onRows string, fromDefault bool, diags *diag.Diagnostics) {
	if !client.Known() {
		return
	}
	db, err := client.DB()
	var cur *postgres.Partition
	if err == nil {
		cur, err = postgres.ReadPartition(ctx, db, schema, name)
	}
	if errors.Is(err, postgres.ErrNotFound) {
		return
	}
	var m boundMove
	if err == nil && cur.ParentName != "" && !cur.Bound.Default && !to.Bound.Default {
		to.Bound, err = postgres.CanonicalBound(ctx, db, cur.ParentSchema, cur.ParentName, to.Bound)
	}
	if err == nil {
		m, err = planBoundMove(ctx, db, cur, to, onRows, fromDefault)
	}
	if err != nil {
		diags.AddError(kind+" Bound Change Refused", fmt.Sprintf("Could not plan the bound change of %s.%s in database %q: %s. Nothing has been changed.", schema, name, client.Database(), reason(err)))
		return
	}
	parent := tableID(cur.ParentSchema, cur.ParentName)
	self := tableID(schema, name)
	if cur.ParentSchema != to.ParentSchema || cur.ParentName != to.ParentName {
		// Attached (again, after a detach out of band, or to another parent): its ids are adopted.
		adopting := postgres.Partition{Schema: schema, Name: name, ParentSchema: to.ParentSchema, ParentName: to.ParentName}
		if advances, err := postgres.SequencesToAdvance(ctx, db, adopting); err == nil {
			addSequenceWarning(diags, self, self, tableID(to.ParentSchema, to.ParentName), advances)
		}
	}
	if cur.ParentName != "" && cur.Bound.Equal(to.Bound) {
		// The refresh undoes what a move stopped before its switch left; what it could not
		// undo is said here, as it is.
		if pending, found, err := postgres.PendingMove(ctx, db, *cur); err == nil && found && pending > 0 {
			diags.AddWarning("Rows Of A Move Left Half Done", (&pendingMoveError{schema, name, pending}).Error()+".")
		}
	}
	switch {
	case m.toDefault:
		keys, _, _, err := postgres.MovingKeys(ctx, db, *cur, cur.Bound, to.Bound)
		if err != nil {
			diags.AddError(kind+" Bound Change Refused", fmt.Sprintf("Could not count the rows per key that the bound change of %s.%s moves: %s. Nothing has been changed.", schema, name, reason(err)))
			return
		}
		resumed := ""
		if m.pending > 0 {
			resumed = fmt.Sprintf(" This finishes a move left half done by an earlier apply: %d of those rows wait in its journal on the base.", m.pending)
		}
		diags.AddWarning("Rows Move To DEFAULT", strings.TrimSpace(fmt.Sprintf("%d rows of %s (exact, counted now) move into the DEFAULT partition of %s: copied, verified by count, then deleted from the partition.%s\n\n%s",
			m.rows, self, parent, resumed, leavingKeys(keys, client.noteKeysLeaving(parent, self, keys), self))))
	case m.fromDefault:
		keys, _, _, err := postgres.MovingKeys(ctx, db, *cur, cur.Bound, to.Bound)
		if err != nil {
			diags.AddError(kind+" Bound Change Refused", fmt.Sprintf("Could not count the rows per key that the bound change of %s.%s moves: %s. Nothing has been changed.", schema, name, reason(err)))
			return
		}
		diags.AddWarning("Rows Move From DEFAULT", fmt.Sprintf("%d rows of the DEFAULT partition of %s (exact, counted now) move into %s: copied, verified, then deleted from DEFAULT.\n\n%s",
			m.rows, parent, self, takenKeys(keys, client.noteKeysTaken(parent, self, newListKeys(cur.Bound, to.Bound)), self)))
	default:
		// A widened bound over keys that nothing holds yet: another partition of this plan
		// may be moving them into DEFAULT first (a key changing shard).
		if fromDefault {
			if givers := client.noteKeysTaken(parent, self, newListKeys(cur.Bound, to.Bound)); len(givers) > 0 {
				diags.AddWarning("Rows Move From DEFAULT", takenKeys(nil, givers, self))
			}
		}
	}
}

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
	givers := client.noteKeysTaken(tableID(c.p.ParentSchema, c.p.ParentName), self, newListKeys(postgres.Bound{}, c.p.Bound))
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

// newListKeys are the LIST values of bound to that bound from lacks, printed as
// postgres.KeyRows prints keys.
func newListKeys(from, to postgres.Bound) []string {
	var out []string
	for _, v := range to.In {
		if !slices.Contains(from.In, v) {
			out = append(out, postgres.Literal(v))
		}
	}
	return out
}

// leavingKeys lists, per key, the rows leaving and where they go.
func leavingKeys(keys []postgres.KeyRows, takers map[string]string, self string) string {
	if len(keys) == 0 {
		return "" // only the rows of a move left half done, which wait in its journal
	}
	var b strings.Builder
	b.WriteString("Per key (source -> target):")
	for i, k := range keys {
		if i == maxKeysListed {
			fmt.Fprintf(&b, "\n  ... and more keys")
			break
		}
		target := "DEFAULT"
		if t, ok := takers[k.Key]; ok {
			target = "DEFAULT -> " + t
		}
		fmt.Fprintf(&b, "\n  key %s: %d rows, %s -> %s", k.Key, k.Rows, self, target)
	}
	return b.String()
}

// takenKeys lists, per key, the rows a partition takes: those in DEFAULT now, and those
// another partition of this plan moves into DEFAULT first.
func takenKeys(keys []postgres.KeyRows, givers map[string]keyLeaving, self string) string {
	var b strings.Builder
	b.WriteString("Per key (source -> target):")
	seen := map[string]bool{}
	for i, k := range keys {
		if i == maxKeysListed {
			fmt.Fprintf(&b, "\n  ... and more keys")
			break
		}
		seen[k.Key] = true
		fmt.Fprintf(&b, "\n  key %s: %d rows, DEFAULT -> %s", k.Key, k.Rows, self)
	}
	for _, key := range slices.Sorted(maps.Keys(givers)) {
		if g := givers[key]; !seen[key] {
			fmt.Fprintf(&b, "\n  key %s: %d rows, %s -> DEFAULT -> %s (moved into DEFAULT first, in this apply)", key, g.rows, g.partition, self)
		}
	}
	return b.String()
}

// maxKeysListed bounds the keys a plan lists one by one.
const maxKeysListed = 20

// planDestroyRows is the plan-time half of a partition's destroy: a DEFAULT partition, or one
// whose destroy moves its rows into DEFAULT, is noted, and refused when the same plan does
// both to one parent; a move shows its row count.
func planDestroyRows(ctx context.Context, client *Client, kind, schema, name, parent string, isDefault, moves bool, diags *diag.Diagnostics) {
	if conflict := client.noteDestroy(parent, schema+"."+name, isDefault, moves); conflict != "" {
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

// undoAbandonedMove undoes, at refresh, what a move of the partition left when it stopped
// before its switch (see postgres.UndoMove), and says what it did. A move is redone by the
// apply that configures it; undoing first costs that apply only a copy made again, and
// keeps a configuration put back to the old bound from leaving a journal and DEFAULT's
// constraint behind for good.
func undoAbandonedMove(ctx context.Context, client *Client, schema, name string, managed bool, diags *diag.Diagnostics) {
	db, err := client.DB()
	if err != nil {
		return
	}
	found, err := postgres.UndoMove(ctx, db, schema, name, managed)
	if errors.Is(err, postgres.ErrMoveRunning) {
		return
	}
	if err != nil {
		if !found.Empty() {
			diags.AddWarning("Move Left Half Done Not Undone", fmt.Sprintf("A move of %s.%s in database %q stopped before its switch and left %s. "+
				"The refresh could not undo it: %s. Rows counted here as only in the journal are visible nowhere through the parent, and copies on the partition are seen twice by a scan of the whole parent, until it is undone; the next refresh tries again.",
				schema, name, client.Database(), describeLeftovers(found), reason(err)))
		}
		return
	}
	if !found.Empty() {
		diags.AddWarning("Move Left Half Done Undone", fmt.Sprintf("A move of %s.%s in database %q stopped before its switch and left %s. The refresh undid it: "+
			"every row is where the partition's current bound says, once. An apply that configures the move again makes it from the start.",
			schema, name, client.Database(), describeLeftovers(found)))
	}
}

// describeLeftovers says what a move left, in the words of the warnings above.
func describeLeftovers(l postgres.MoveLeftovers) string {
	var parts []string
	if l.Journal != "" {
		s := fmt.Sprintf("its journal %s with %d rows", l.Journal, l.JournalRows)
		if l.OnlyInJournal > 0 {
			s += fmt.Sprintf(", %d of them only there (put back onto the partition)", l.OnlyInJournal)
		} else {
			s += " (all still on the partition: a copy, dropped)"
		}
		parts = append(parts, s)
	}
	if l.Copies > 0 {
		parts = append(parts, fmt.Sprintf("%d copies of DEFAULT rows on the partition, outside its bound (deleted from the partition; DEFAULT keeps them)", l.Copies))
	}
	if l.Fence != "" {
		parts = append(parts, fmt.Sprintf("the constraint %s on %s, which refuses rows of the moving keys there (dropped)", l.Fence, l.Default))
	}
	return strings.Join(parts, ", and ")
}
