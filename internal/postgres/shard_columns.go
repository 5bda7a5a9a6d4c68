package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// A column change of a partitioned table reaches the shard tables the provider manages
// (those carrying its bound CHECK) as one change with the parent's own (a Span): each
// shard's statements run in one remote transaction that is prepared before the base
// commits and committed after, so a shard that refuses (a value that does not convert, a
// NULL where NOT NULL is wanted) or cannot be reached stops the whole change, and nothing
// changes anywhere. diffShard (shard_table.go) still splits a shard's statements into those that widen what
// it accepts (Before) and those that narrow it (After): a drift repair of one shard runs
// them in that order.

// ShardError names the shard tables a column change could not reach.
type ShardError struct{ Failed []string }

func (e *ShardError) Error() string {
	return "the change did not reach every shard table: " + strings.Join(e.Failed, "; ") +
		". The foreign partitions of these shards show what is left in remote_drift, and the next apply completes it once they are reachable"
}

// AlterPartitionedTable renames or moves a partitioned table from fromSchema.fromName and
// changes its columns to to's, on the base and on every shard table the provider manages
// under it (those carrying its bound CHECK), as one change: all of it happens or none
// (see Span). A dropped column holding values is refused unless force, counted in the
// base's transaction; a shard that cannot be reached or refuses its part (a value that
// does not convert, a NULL where NOT NULL is wanted) is named in a *PartError and nothing
// changes anywhere.
func AlterPartitionedTable(ctx context.Context, db *sql.DB, fromSchema, fromName string, to Table, force bool) (PartitionedTableChange, error) {
	var change PartitionedTableChange
	var parent *Table
	err := runSpan(ctx, db, func(s *Span) error {
		var err error
		if change.ColumnPlan, err = renameAndAlterColumns(ctx, s.Tx, fromSchema, fromName, to, force); err != nil || change.Empty() {
			return err
		}
		parent, err = propagateColumns(ctx, s, to.Schema, to.Name, change.Drops, force)
		return err
	})
	if err != nil || parent == nil {
		return change, err
	}
	// After the commit: the foreign partitions whose shard tables no longer answer the
	// parent's columns (those the provider does not manage). A probe that cannot run says
	// nothing: the change itself is done.
	change.Lagging, _ = foreignPartitionsLagging(ctx, db, parent)
	return change, nil
}

// PartitionedTableChange says what AlterPartitionedTable did.
type PartitionedTableChange struct {
	ColumnPlan
	// Lagging names the foreign partitions whose shard tables do not match the parent's
	// columns after the change, with the reason: shard tables the provider does not manage.
	Lagging []string
}

// propagateColumns adds to s each managed shard's part of a column change of the parent
// (as s.Tx sees it, after the parent's change): what the shard lacks and what it has too
// much, in one remote transaction, and on the base the column_name options that go once the
// shard has renamed its columns. The shard tables are locked from their part's first
// statement until the change commits everywhere, so no reader sees the parent and a shard
// disagree, whatever the order of the statements.
func propagateColumns(ctx context.Context, s *Span, parentSchema, parentName string, drops []string, force bool) (*Table, error) {
	logStep(ctx, "bring the managed shard tables in line with the parent", parentSchema+"."+parentName)
	var hasDblink bool
	parent, err := ReadTable(ctx, s.Tx, parentSchema, parentName)
	if err != nil {
		return nil, err
	}
	if err := s.Tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'dblink')`).Scan(&hasDblink); err != nil {
		return nil, err
	}
	if !hasDblink {
		return parent, nil // no dblink: no shard table is managed here
	}
	shards, err := partitionShards(ctx, s.Tx, parentSchema, parentName)
	if err != nil {
		return nil, err
	}
	dropped := map[string]bool{}
	for _, c := range drops {
		dropped[c] = true
	}
	for _, sh := range shards {
		diff, managed, err := inspectManaged(ctx, s.Tx, sh, parent.Columns, dropped)
		if err != nil {
			return nil, &PartError{Server: sh.Server, Err: fmt.Errorf("%s: %w", sh.describe(), err)}
		}
		if !managed || diff.Empty() {
			continue
		}
		var guard []string
		if !force {
			guard = shardDropGuard(sh.RemoteSchema, sh.RemoteTable, diff.Dropped)
		}
		s.OnShard(sh.Server, append(append(guard, diff.Before...), diff.After...)...)
		if err := unmapColumns(ctx, s.Tx, sh.Schema, sh.Name, diff.Unmap); err != nil {
			return nil, err
		}
	}
	return parent, nil
}

// shardDropGuard is what a shard runs before it drops columns, in the same remote
// transaction: the table is locked and each column's values counted, and the shard
// refuses (so nothing changes anywhere) while a column holds any.
func shardDropGuard(schema, name string, columns []string) []string {
	if len(columns) == 0 {
		return nil
	}
	table := QualifiedIdent(schema, name)
	stmts := []string{"LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE"}
	for _, c := range columns {
		body := "DECLARE n bigint; BEGIN SELECT count(" + Ident(c) + ") INTO n FROM ONLY " + table + "; " +
			"IF n > 0 THEN RAISE EXCEPTION 'column % of % holds % values, which dropping it would destroy (set force_destroy = true to drop them)', " +
			Literal(c) + ", " + Literal(schema+"."+name) + ", n; END IF; END"
		stmts = append(stmts, "DO "+Literal(body))
	}
	return stmts
}

// inspectManaged reads one shard table from inside tx and, when the provider manages it,
// says how its columns differ from the parent's.
func inspectManaged(ctx context.Context, tx *sql.Tx, sh partitionShard, parent []Column, drops map[string]bool) (ShardDiff, bool, error) {
	r, err := openShardSessionIn(ctx, tx, sh.Server)
	if err != nil {
		return ShardDiff{}, false, err
	}
	diff, managed, err := r.diffManaged(ctx, tx, sh, parent, drops)
	if closeErr := r.closeIn(ctx); err == nil {
		err = closeErr
	}
	return diff, managed, err
}

// diffManaged inspects one shard table and, when the provider manages it (it carries the
// provider's bound CHECK), compares it with the parent's columns.
func (r *ShardSession) diffManaged(ctx context.Context, q Querier, sh partitionShard, parent []Column, drops map[string]bool) (ShardDiff, bool, error) {
	st, err := r.inspect(ctx, sh.RemoteSchema, sh.RemoteTable, BoundCheckName(sh.RemoteTable))
	if err != nil || !st.Exists || st.Check == "" {
		return ShardDiff{}, false, err
	}
	names, err := foreignColumnNames(ctx, q, sh.Schema, sh.Name)
	if err != nil {
		return ShardDiff{}, true, err
	}
	return diffShard(sh.RemoteSchema, sh.RemoteTable, parent, names, st.Columns, drops), true, nil
}

func (sh partitionShard) describe() string {
	return fmt.Sprintf("shard table %s.%s of %s.%s on server %q", sh.RemoteSchema, sh.RemoteTable, sh.Schema, sh.Name, sh.Server)
}

// reasonOf is an error's message without the driver's prefix.
func reasonOf(err error) string {
	return strings.TrimPrefix(err.Error(), "pq: ")
}

// ShardTables describes the shard tables behind a parent's foreign partitions, for plans.
func ShardTables(ctx context.Context, q Querier, schema, name string) ([]string, error) {
	shards, err := partitionShards(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(shards))
	for i, sh := range shards {
		out[i] = sh.describe()
	}
	return out, nil
}

// TypeChange is a column that changes type: Column as the parent names it, To the new type.
type TypeChange struct{ Column, To string }

// Unconvertible counts, on the base's local partitions and on every shard table the
// provider manages under the parent, the values of each changing column that would not
// convert to its new type, as "public.t_default: column \"body\" (2 values)". A value
// converts when PL/pgSQL's assignment to a variable of the new type takes it: the same
// assignment coercion ALTER COLUMN ... TYPE applies. Nothing is changed: the counting
// functions are temporary, on the base in a transaction rolled back.
func Unconvertible(ctx context.Context, db *sql.DB, schema, name string, changes []TypeChange) ([]string, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	for _, c := range changes {
		if err := CheckType(c.To); err != nil {
			return nil, fmt.Errorf("type %q of column %q %w", c.To, c.Column, err)
		}
	}
	var out []string
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	fits := make([]string, len(changes))
	for i, c := range changes {
		p, err := probeTable(ctx, tx)
		if err != nil {
			return nil, err
		}
		fits[i] = p.name
		if _, err := tx.ExecContext(ctx, fitsFunctionSQL(p.name, c.To)); err != nil {
			return nil, fmt.Errorf("checking that column %q converts to %s: %w", c.Column, c.To, err)
		}
	}
	tables, err := localLeaves(ctx, tx, schema, name)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		for i, c := range changes {
			var n int64
			if err := tx.QueryRowContext(ctx, countUnfitSQL(fits[i], t, c.Column)).Scan(&n); err != nil {
				return nil, fmt.Errorf("counting the values of column %q of %s that do not convert to %s: %w", c.Column, t, c.To, err)
			}
			if n > 0 {
				out = append(out, fmt.Sprintf("%s: column %q (%d values do not convert to %s)", t, c.Column, n, c.To))
			}
		}
	}
	shards, err := partitionShards(ctx, tx, schema, name)
	if err != nil {
		return nil, err
	}
	var hasDblink bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'dblink')`).Scan(&hasDblink); err != nil || !hasDblink {
		return out, err
	}
	for _, sh := range shards {
		held, err := unconvertibleOnShard(ctx, tx, sh, changes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sh.describe(), err)
		}
		out = append(out, held...)
	}
	return out, nil
}

// unconvertibleOnShard counts a managed shard table's values that would not convert.
func unconvertibleOnShard(ctx context.Context, tx *sql.Tx, sh partitionShard, changes []TypeChange) ([]string, error) {
	r, err := openShardSessionIn(ctx, tx, sh.Server)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.closeIn(ctx) }()
	st, err := r.inspect(ctx, sh.RemoteSchema, sh.RemoteTable, BoundCheckName(sh.RemoteTable))
	if err != nil || !st.Exists || st.Check == "" || !r.named {
		return nil, err // not managed (its type does not change), or no session to count in
	}
	var temp bool
	if err := r.queryRow(ctx, `has_database_privilege(current_database(), 'TEMP')`, &temp); err != nil || !temp {
		return nil, err // no temporary function can count there: the apply's one outcome still holds
	}
	names, err := foreignColumnNames(ctx, tx, sh.Schema, sh.Name)
	if err != nil {
		return nil, err
	}
	table := QualifiedIdent(sh.RemoteSchema, sh.RemoteTable)
	var out []string
	for i, c := range changes {
		column := c.Column
		if remote, ok := names[c.Column]; ok {
			column = remote
		}
		fits := "pg_temp.pgshard_fits_" + strconv.Itoa(i)
		if _, err := tx.ExecContext(ctx, `SELECT `+r.exec+`($1, $2)`, r.name, fitsFunctionSQL(fits, c.To)); err != nil {
			return nil, err
		}
		var n int64
		if err := r.queryRow(ctx, countUnfitSQL(fits, table, column), &n); err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s.%s on server %q: column %q (%d values do not convert to %s)", sh.RemoteSchema, sh.RemoteTable, sh.Server, column, n, c.To))
		}
	}
	return out, nil
}

// fitsFunctionSQL creates the function fits(v), true when v can be assigned to a variable
// of type to.
func fitsFunctionSQL(fits, to string) string {
	body := "DECLARE x " + to + "; BEGIN x := v; RETURN true; EXCEPTION WHEN others THEN RETURN false; END"
	return "CREATE OR REPLACE FUNCTION " + fits + "(v anyelement) RETURNS boolean LANGUAGE plpgsql AS " + Literal(body)
}

func countUnfitSQL(fits, table, column string) string {
	return fmt.Sprintf("SELECT count(*) FROM ONLY %s WHERE %s IS NOT NULL AND NOT %s(%s)", table, Ident(column), fits, Ident(column))
}

// localLeaves lists a table itself, or a partitioned table's local leaf partitions, as
// the server quotes schema.name (format's %I: only where a name needs it).
func localLeaves(ctx context.Context, q Querier, schema, name string) ([]string, error) {
	leaves, err := localLeafTables(ctx, q, schema, name)
	out := make([]string, len(leaves))
	for i, l := range leaves {
		out[i] = l.quoted
	}
	return out, err
}

// leafTable is a table that holds rows on this database.
type leafTable struct{ schema, name, quoted string }

// localLeafTables lists a table itself, or a partitioned table's local leaf partitions
// (what holds its rows on this database).
func localLeafTables(ctx context.Context, q Querier, schema, name string) ([]leafTable, error) {
	rows, err := q.QueryContext(ctx, `
WITH rel AS (SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS oid)
SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname)
FROM (SELECT relid FROM pg_partition_tree((SELECT oid FROM rel)) WHERE isleaf UNION SELECT oid FROM rel) t(relid)
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' ORDER BY 1, 2`, schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []leafTable
	for rows.Next() {
		var t leafTable
		if err := rows.Scan(&t.schema, &t.name, &t.quoted); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}
