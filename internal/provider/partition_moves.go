package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Rows that move when a partition's bound changes (through DEFAULT, between shards): planned,
// shown and refused at plan, run at apply, and what a stopped move left undone at refresh.

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
			m.rows, self, parent, resumed, leavingKeys(keys, client.plan.noteKeysLeaving(parent, self, keys), self))))
	case m.fromDefault:
		keys, _, _, err := postgres.MovingKeys(ctx, db, *cur, cur.Bound, to.Bound)
		if err != nil {
			diags.AddError(kind+" Bound Change Refused", fmt.Sprintf("Could not count the rows per key that the bound change of %s.%s moves: %s. Nothing has been changed.", schema, name, reason(err)))
			return
		}
		diags.AddWarning("Rows Move From DEFAULT", fmt.Sprintf("%d rows of the DEFAULT partition of %s (exact, counted now) move into %s: copied, verified, then deleted from DEFAULT.\n\n%s",
			m.rows, parent, self, takenKeys(keys, client.plan.noteKeysTaken(parent, self, newListKeys(cur.Bound, to.Bound)), self)))
	default:
		// A widened bound over keys that nothing holds yet: another partition of this plan
		// may be moving them into DEFAULT first (a key changing shard).
		if fromDefault {
			if givers := client.plan.noteKeysTaken(parent, self, newListKeys(cur.Bound, to.Bound)); len(givers) > 0 {
				diags.AddWarning("Rows Move From DEFAULT", takenKeys(nil, givers, self))
			}
		}
	}
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
