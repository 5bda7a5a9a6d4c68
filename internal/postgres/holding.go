package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Holding partitions: where the rows of a LIST move into DEFAULT go.
//
// PostgreSQL refuses a row in DEFAULT while another partition's bound admits it, so rows
// leaving a partition for DEFAULT could only be inserted into DEFAULT after that partition
// was detached, under the parent's lock, for a time that grows with the rows. Instead, the
// leaving rows are copied ahead into a plain table shaped like the parent (the move's
// journal) whose validated CHECK admits exactly the leaving keys, and the switch attaches
// that table as a local partition for those keys: a catalog change, whatever the rows. It
// is then renamed pgshard_held_<parent>_<hash>: a local partition of the base, as DEFAULT
// is, that holds DEFAULT's rows of those keys. Whatever reads DEFAULT's rows reads the
// holding partitions too (DefaultRowsMatching, RowsByKey through defaultSide, the moves out
// of DEFAULT), and a partition that later takes some of their keys takes their rows from
// there and detaches them, or attaches them again with the keys left (claim).

// holdPrefix begins the name of every holding partition.
const holdPrefix = "pgshard_held_"

// holdCheck is the journal's CHECK that admits exactly the leaving keys: it spares the
// switch's ATTACH its scan of the journal. It is dropped in the switch.
const holdCheck = "pgshard_holds"

// holding is one holding partition of a parent.
type holding struct {
	Schema, Name string
	Table        string // qualified, quoted
	Bound        Bound  // its LIST bound, as the server prints it
}

// holdingName names the holding partition of a parent with bound b.
func holdingName(parentName string, b Bound) string {
	sum := sha256.Sum256([]byte(b.SQL()))
	return TruncateIdentifier(holdPrefix+parentName, "_"+hex.EncodeToString(sum[:4]))
}

// holdingsOf lists the holding partitions of parent schema.name.
func holdingsOf(ctx context.Context, q Querier, schema, name string) ([]holding, error) {
	rows, err := q.QueryContext(ctx, `
SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname), pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = format('%I.%I', $1::text, $2::text)::regclass
  AND c.relkind = 'r' AND c.relname LIKE 'pgshard\_held\_%'
ORDER BY c.relname`, schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []holding
	for rows.Next() {
		var h holding
		var bound string
		if err := rows.Scan(&h.Schema, &h.Name, &h.Table, &bound); err != nil {
			return nil, err
		}
		if h.Bound, err = parseBound(bound); err != nil {
			return nil, err
		}
		if h.Bound.Kind() == "list" {
			out = append(out, h)
		}
	}
	return out, rows.Err()
}

// listMinus is the values of a that b does not hold (canonical text, as the server prints
// bounds), in a's order.
func listMinus(a, b []string) []string {
	in := map[string]bool{}
	for _, v := range b {
		in[v] = true
	}
	out := []string{}
	for _, v := range a {
		if !in[v] {
			out = append(out, v)
		}
	}
	return out
}

// leavingBound is the LIST bound of the keys a partition narrowed from bound from to bound
// to gives to DEFAULT; ok is false when the bounds are not LIST bounds or no key leaves.
func leavingBound(from, to Bound) (Bound, bool) {
	if from.Kind() != "list" || !to.isNone() && to.Kind() != "list" {
		return Bound{}, false
	}
	left := from.In
	if !to.isNone() {
		left = listMinus(from.In, to.In)
	}
	if len(left) == 0 {
		return Bound{}, false
	}
	return Bound{In: left}, true
}

// claim is a holding partition some of whose keys a partition takes: Rest is the bound of
// the keys it keeps (no values: it goes).
type claim struct {
	holding
	Rest Bound
}

// restCheck is the CHECK of the keys the holding keeps ("false" when it goes), in the form
// that spares the ATTACH for those keys its scan (PartitionCheckSQL).
func (c claim) restCheck(key []string) string {
	if len(c.Rest.In) == 0 {
		return "false"
	}
	return c.Rest.PartitionCheckSQL(key)
}

// claimsOf lists the holding partitions of parent schema.name that bound b (a LIST bound)
// takes keys of. b is first put in the server's form, so that values compare by meaning.
func claimsOf(ctx context.Context, q Querier, schema, name string, b Bound) ([]claim, error) {
	if b.Kind() != "list" || b.isNone() {
		return nil, nil
	}
	hs, err := holdingsOf(ctx, q, schema, name)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	canon, err := canonicalIn(ctx, q, schema, name, b)
	if err != nil {
		return nil, err
	}
	var out []claim
	for _, h := range hs {
		rest := listMinus(h.Bound.In, canon.In)
		if len(rest) < len(h.Bound.In) {
			out = append(out, claim{holding: h, Rest: Bound{In: rest}})
		}
	}
	return out, nil
}

// canonicalIn is CanonicalBound on whichever connection q is.
func canonicalIn(ctx context.Context, q Querier, schema, name string, b Bound) (Bound, error) {
	switch c := q.(type) {
	case *sql.DB:
		return CanonicalBound(ctx, c, schema, name, b)
	case *sql.Tx:
		return canonicalBoundIn(ctx, c, schema, name, b)
	}
	return b, nil
}

// defaultSide is a FROM item (aliased d) of the given columns of the rows of DEFAULT and of
// the holding partitions hs: every row the parent keeps locally outside its partitions.
func defaultSide(def string, hs []holding, cols string) string {
	parts := []string{"SELECT " + cols + " FROM ONLY " + def}
	for _, h := range hs {
		parts = append(parts, "SELECT "+cols+" FROM ONLY "+h.Table)
	}
	if len(parts) == 1 {
		return "ONLY " + def + " d"
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ") d"
}

// fenceChecks are the conditions DEFAULT's move constraint must refute for a switch that
// attaches a partition with check and the holdings of cs with what they keep: each ATTACH
// then skips its scan of DEFAULT.
func fenceChecks(check string, cs []claim, key []string) []string {
	out := []string{check}
	for _, c := range cs {
		if len(c.Rest.In) > 0 {
			out = append(out, c.restCheck(key))
		}
	}
	return out
}

// whole reports whether the claim takes every key of its holding, which then goes.
func (c claim) whole() bool { return len(c.Rest.In) == 0 }

// refuseDeleteFunction is the trigger function that refuses deletes of the rows of a
// holding partition a move takes whole (see addHoldingFences), in schema.
func refuseDeleteFunction(schema string) string {
	return QualifiedIdent(schema, "pgshard_refuse_moving_delete")
}

// ensureRefuseDeleteFunction creates refuseDeleteFunction(schema) unless it exists. It
// stays: a few catalog rows, used by the moves of every parent in the schema.
func ensureRefuseDeleteFunction(ctx context.Context, db *sql.DB, schema string) error {
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regprocedure($1) IS NOT NULL`, refuseDeleteFunction(schema)+"()").Scan(&exists); err != nil || exists {
		return err
	}
	_, err := db.ExecContext(ctx, "CREATE FUNCTION "+refuseDeleteFunction(schema)+"() RETURNS trigger LANGUAGE plpgsql AS "+Literal(`
BEGIN
  RAISE EXCEPTION 'rows of % are moving into another partition (%): deletes of them are refused until the move commits', TG_TABLE_NAME, TG_NAME
    USING ERRCODE = 'object_in_use', HINT = 'Retry the delete after the move; it then reaches the rows where they are.';
END`))
	if se := ServerErrorOf(err); se != nil && se.Code == "42723" {
		return nil // made by a move of another parent meanwhile
	}
	return err
}

// addHoldingFences puts the constraint fenceName(p) on each claimed holding, not
// validated: from its commit the holding refuses new and changed rows of the keys p takes,
// and once validated it spares the ATTACH of the keys it keeps its scan. A holding taken
// whole also gets a trigger of that name that refuses deletes: nothing can change its rows
// then, so that they are copied and counted but never deleted (the switch drops it).
func addHoldingFences(ctx context.Context, db *sql.DB, p Partition, cs []claim, key []string) error {
	name := Ident(fenceName(p))
	for _, c := range cs {
		if c.whole() {
			if err := ensureRefuseDeleteFunction(ctx, db, p.ParentSchema); err != nil {
				return err
			}
		}
		logStep(ctx, "put the move's constraint "+fenceName(p)+" on the holding partition (not validated yet)", c.Table)
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			if err := lockBriefly(ctx, tx, "ALTER TABLE "+c.Table+" DROP CONSTRAINT IF EXISTS "+name+", ADD CONSTRAINT "+name+" CHECK ("+c.restCheck(key)+") NOT VALID"); err != nil {
				return err
			}
			if !c.whole() {
				return nil
			}
			if _, err := tx.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+name+" ON "+c.Table); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "CREATE TRIGGER "+name+" BEFORE DELETE ON "+c.Table+" FOR EACH ROW EXECUTE FUNCTION "+refuseDeleteFunction(p.ParentSchema)+"()")
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// takeFromClaims moves, inside tx, the rows of the claimed holdings that cond admits into
// target: copied, then deleted from the holding (their count checked), and the holding's
// constraint validated. It returns the rows moved.
func takeFromClaims(ctx context.Context, tx *sql.Tx, p Partition, cs []claim, target, cols, cond string) (int64, error) {
	var total int64
	for _, c := range cs {
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+c.Table+" WHERE "+cond).Scan(&n); err != nil {
			return 0, err
		}
		if n > 0 {
			logProgress(ctx, fmt.Sprintf("move %d rows out of the holding partition %s", n, c.Table), p.Schema+"."+p.Name)
			copied, err := copyInBatches(ctx, tx, p, target, cols, c.Table, cond, n)
			if err != nil {
				return 0, &MoveRowsError{Default: c.Table, To: p.Qualified(), Err: err}
			}
			if copied != n {
				return 0, fmt.Errorf("%d of the %d rows of %s moving into %s were copied: nothing was changed; apply again", copied, n, c.Table, p.Qualified())
			}
		}
		if c.whole() {
			// Its rows cannot change (see addHoldingFences), and it goes with the switch.
			total += n
			continue
		}
		if n > 0 {
			r, err := tx.ExecContext(ctx, "DELETE FROM ONLY "+c.Table+" WHERE "+cond)
			if err != nil {
				return 0, err
			}
			if d, err := r.RowsAffected(); err != nil || d != n {
				return 0, fmt.Errorf("rows of the keys moving into %s were deleted or changed in %s while they were moved (%d rows deleted, %d copied): nothing was changed; apply again",
					p.Qualified(), c.Table, d, n)
			}
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.Table+" VALIDATE CONSTRAINT "+Ident(fenceName(p))); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// countClaims counts the rows of the claimed holdings that cond admits.
func countClaims(ctx context.Context, q Querier, cs []claim, cond string) (int64, error) {
	var total int64
	for _, c := range cs {
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+c.Table+" WHERE "+cond).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// detachClaims detaches the claimed holdings, inside tx, with the parent locked ACCESS
// EXCLUSIVE already: before the partition that takes their keys is attached.
func detachClaims(ctx context.Context, tx *sql.Tx, parent string, cs []claim) error {
	for _, c := range cs {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+parent+" DETACH PARTITION "+c.Table); err != nil {
			return err
		}
	}
	return nil
}

// settleClaims ends the claims inside tx, after the partition that takes their keys is
// attached: a holding left with no key goes (its rows were all moved), one with keys left is
// attached again for them, renamed after its new bound, and loses the move's constraint
// (validated, it spared ATTACH its scan).
func settleClaims(ctx context.Context, tx *sql.Tx, parent, parentName string, p Partition, cs []claim) error {
	for _, c := range cs {
		if len(c.Rest.In) == 0 {
			if _, err := tx.ExecContext(ctx, "DROP TABLE "+c.Table); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+parent+" ATTACH PARTITION "+c.Table+" "+c.Rest.SQL()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.Table+" DROP CONSTRAINT IF EXISTS "+Ident(fenceName(p))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.Table+" RENAME TO "+Ident(holdingName(parentName, c.Rest))); err != nil {
			return err
		}
	}
	return nil
}

// yieldHoldings makes way, inside tx, for a partition of parent p.Parent() with bound b
// that moves no rows: the holding partitions whose keys b takes must hold no row of them
// (else the error says how many, as PostgreSQL would for DEFAULT's rows); they are detached
// (the parent locked briefly at a time, see lockBriefly) and dropped, or attached again for
// the keys they keep.
func yieldHoldings(ctx context.Context, tx *sql.Tx, p Partition, b Bound) error {
	cs, err := claimsOf(ctx, tx, p.ParentSchema, p.ParentName, b)
	if err != nil || len(cs) == 0 {
		return err
	}
	parent, err := ReadTable(ctx, tx, p.ParentSchema, p.ParentName)
	if err != nil || parent.PartitionBy == nil {
		return err
	}
	if err := lockBriefly(ctx, tx, "LOCK TABLE ONLY "+p.Parent()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return err
	}
	if err := detachClaims(ctx, tx, p.Parent(), cs); err != nil {
		return err
	}
	// Counted under the holdings' own locks (DETACH took them), in the transaction that
	// drops those it empties: no row can arrive between the count and the drop.
	n, err := countClaims(ctx, tx, cs, b.CheckSQL(KeySQL(parent.PartitionBy.Key)))
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d rows of the keys of the bound %s are held for DEFAULT in %s (rows moved into DEFAULT earlier): move them in with move_rows_from_default, or out of there yourself",
			n, b, cs[0].Table)
	}
	for _, c := range cs {
		if len(c.Rest.In) == 0 {
			if _, err := tx.ExecContext(ctx, "DROP TABLE "+c.Table); err != nil {
				return err
			}
			continue
		}
		// Attached again for the keys it keeps: a scan of its rows, which hold none of b's.
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+c.Table+" "+c.Rest.SQL()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.Table+" RENAME TO "+Ident(holdingName(p.ParentName, c.Rest))); err != nil {
			return err
		}
	}
	return nil
}

// dropHoldingFences takes the constraint fenceName(p) off every holding partition of p's
// parent that has it: a claim of their keys by p that stopped before its switch left it.
func dropHoldingFences(ctx context.Context, db *sql.DB, p Partition) error {
	hs, err := holdingsOf(ctx, db, p.ParentSchema, p.ParentName)
	if err != nil {
		return err
	}
	for _, h := range hs {
		has, err := hasConstraint(ctx, db, h.Table, fenceName(p))
		if err != nil {
			return err
		}
		if !has {
			continue
		}
		err = inTx(ctx, db, func(tx *sql.Tx) error {
			if err := lockBriefly(ctx, tx, "ALTER TABLE "+h.Table+" DROP CONSTRAINT IF EXISTS "+Ident(fenceName(p))); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+Ident(fenceName(p))+" ON "+h.Table)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// holdingFenced reports whether a holding partition of p's parent has p's move constraint.
func holdingFenced(ctx context.Context, q Querier, p Partition) (bool, error) {
	hs, err := holdingsOf(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil {
		return false, err
	}
	for _, h := range hs {
		if has, err := hasConstraint(ctx, q, h.Table, fenceName(p)); err != nil || has {
			return has, err
		}
	}
	return false, nil
}

// holdingsOfDefault lists the holding partitions of the parent whose DEFAULT partition is
// schema.name (none when it is not one).
func holdingsOfDefault(ctx context.Context, q Querier, schema, name string) ([]holding, error) {
	var ps, pn sql.NullString
	err := q.QueryRowContext(ctx, `
SELECT pn.nspname, pc.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_inherits i ON i.inhrelid = c.oid
JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relispartition AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'`, schema, name).Scan(&ps, &pn)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return holdingsOf(ctx, q, ps.String, pn.String)
}
