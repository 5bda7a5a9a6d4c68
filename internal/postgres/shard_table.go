package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// InspectedShard is what the shard says of a shard table the provider manages.
type InspectedShard struct {
	Exists  bool
	Columns []Column
	// Check is the definition of the bound CHECK constraint as the shard prints it
	// (pg_get_constraintdef), "" when there is none of that name.
	Check    string
	Identity *Identity // the identity column, nil for none
}

// InspectShard reads a shard table's columns, its bound CHECK constraint checkName and its
// identity column, through the foreign server, on one dblink connection, after finishing
// what interrupted changes of this base left prepared on the shard (see ResolvePrepared).
func InspectShard(ctx context.Context, db *sql.DB, server, schema, name, checkName string) (*InspectedShard, error) {
	var st *InspectedShard
	err := withShardSession(ctx, db, server, func(r *ShardSession) error {
		var err error
		st, err = r.inspect(ctx, schema, name, checkName)
		return err
	})
	return st, err
}

func (r *ShardSession) inspect(ctx context.Context, schema, name, checkName string) (*InspectedShard, error) {
	var st InspectedShard
	var err error
	// What an interrupted change left prepared here holds the shard table's lock (reads
	// through the parent wait): finished here, so that the next plan sees the change whole.
	base, err := baseIdentity(ctx, r.session())
	if err != nil {
		return nil, err
	}
	if err := r.resolveIfTwoPhase(ctx, base); err != nil {
		return nil, fmt.Errorf("resolving prepared transactions on the shard through server %q: %w", r.server, err)
	}
	if st.Columns, st.Exists, err = r.Columns(ctx, schema, name); err != nil || !st.Exists {
		return &st, err
	}
	rel := Literal(QualifiedIdent(schema, name))
	check := `SELECT coalesce((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(` + rel +
		`) AND conname = ` + Literal(checkName) + `), '')`
	if err := r.session().QueryRowContext(ctx, `SELECT c FROM `+r.dblink+`($1, $2) AS t(c text)`, r.name, r.bounded(check)).Scan(&st.Check); err != nil {
		return nil, r.fail(fmt.Errorf("reading the shard table's CHECK through server %q: %w", r.server, err))
	}
	identity := `SELECT a.attname::text, s.seqstart, s.seqincrement FROM pg_attribute a ` +
		`JOIN pg_sequence s ON s.seqrelid = pg_get_serial_sequence(` + rel + `, a.attname)::regclass ` +
		`WHERE a.attrelid = to_regclass(` + rel + `) AND a.attidentity <> '' AND NOT a.attisdropped`
	var id Identity
	err = r.session().QueryRowContext(ctx, `SELECT * FROM `+r.dblink+`($1, $2) AS t(c text, s bigint, i bigint)`, r.name, r.bounded(identity)).Scan(&id.Column, &id.Start, &id.Increment)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, r.fail(fmt.Errorf("reading the shard table's identity column through server %q: %w", r.server, err))
	default:
		st.Identity = &id
	}
	return &st, nil
}

// partitionShard is a foreign partition and the shard table it reads.
type partitionShard struct {
	Schema, Name              string
	Server                    string
	RemoteSchema, RemoteTable string
}

// partitionShards lists the foreign partitions in a parent's partition tree.
func partitionShards(ctx context.Context, q Querier, schema, name string) ([]partitionShard, error) {
	rows, err := q.QueryContext(ctx, `
SELECT n.nspname, c.relname, s.srvname,
       coalesce((SELECT substr(o, 13) FROM unnest(ft.ftoptions) o WHERE o LIKE 'schema_name=%'), n.nspname),
       coalesce((SELECT substr(o, 12) FROM unnest(ft.ftoptions) o WHERE o LIKE 'table_name=%'), c.relname)
FROM pg_partition_tree(format('%I.%I', $1::text, $2::text)::regclass) t
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_foreign_table ft ON ft.ftrelid = c.oid JOIN pg_foreign_server s ON s.oid = ft.ftserver
ORDER BY 1, 2`, schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []partitionShard
	for rows.Next() {
		var f partitionShard
		if err := rows.Scan(&f.Schema, &f.Name, &f.Server, &f.RemoteSchema, &f.RemoteTable); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// BoundCheckName names the CHECK constraint that holds a shard table to its partition's
// bound, within 63 bytes.
func BoundCheckName(table string) string { return TruncateIdentifier(table, "_bound") }

// CheckDrift says what is wrong with the table itself and its bound CHECK: missing, or a
// CHECK that is gone or is not the one recorded when the provider last set it (recorded ""
// when unknown). DiffShard says what is wrong with its columns.
func (st *InspectedShard) CheckDrift(checkName, recorded string) []string {
	switch {
	case !st.Exists:
		return []string{"the shard table is missing"}
	case st.Check == "" && recorded != "":
		return []string{fmt.Sprintf("the bound CHECK constraint %q is missing", checkName)}
	case recorded != "" && st.Check != recorded:
		return []string{fmt.Sprintf("the bound CHECK constraint %q was changed to %s", checkName, st.Check)}
	}
	return nil
}

// ShardColumnDrift compares the shard table behind foreign partition schema.name with the
// parent's columns (as the base prints them), names the differences and what makes them
// the same.
func ShardColumnDrift(ctx context.Context, q Querier, schema, name string, parent []Column, st *InspectedShard, remoteSchema, remoteTable string) (ShardDiff, error) {
	if !st.Exists {
		return ShardDiff{}, nil
	}
	names, err := foreignColumnNames(ctx, q, schema, name)
	if err != nil {
		return ShardDiff{}, err
	}
	return diffShard(remoteSchema, remoteTable, parent, names, st.Columns, nil), nil
}

// RepairShard brings the shard table behind foreign partition schema.name back in line,
// as one change (see Span): its columns with the parent's (t.Columns, as the base prints
// them; see DiffShard) and its bound CHECK set again as the shard's part, and the foreign
// table's column_name options that the shard's renames make unneeded dropped as the base's.
// A missing shard table is not re-created; a shard holding rows outside the bound gives a
// *ShardRowsOutsideBoundError.
func RepairShard(ctx context.Context, db *sql.DB, schema, name string, t ShardTable) error {
	logStep(ctx, "repair shard table "+t.Schema+"."+t.Name+" on server "+t.Server, schema+"."+name)
	err := runSpan(ctx, db, func(s *Span) error {
		cols, exists, err := shardColumnsIn(ctx, s.Tx, t.Server, t.Schema, t.Name)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("the shard table %s.%s is missing on server %q; the provider never re-creates a shard table that held rows: "+
				"restore it, or remove the partition from the configuration", t.Schema, t.Name, t.Server)
		}
		names, err := foreignColumnNames(ctx, s.Tx, schema, name)
		if err != nil {
			return err
		}
		diff := diffShard(t.Schema, t.Name, t.Columns, names, cols, nil)
		s.OnShard(t.Server, append(append(diff.Before, diff.After...), setShardCheckSQL(t.Schema, t.Name, t.CheckName, t.Check))...)
		return unmapColumns(ctx, s.Tx, schema, name, diff.Unmap)
	})
	if pq.As(err, "23514") == nil || t.Check == "" {
		return err
	}
	// The bound did not change: rows written on the shard out of band are outside it.
	n, countErr := ShardRowsRefused(ctx, db, t.Server, t.Schema, t.Name, t.Check)
	if countErr != nil {
		n = -1
	}
	return &ShardRowsOutsideBoundError{Server: t.Server, Schema: t.Schema, Table: t.Name, CheckName: t.CheckName, Rows: n, Err: err}
}

// shardColumnsIn reads a shard table's columns from inside tx, on a dblink connection
// closed again before it returns.
func shardColumnsIn(ctx context.Context, tx *sql.Tx, server, schema, name string) ([]Column, bool, error) {
	r, err := openShardSessionIn(ctx, tx, server)
	if err != nil {
		return nil, false, err
	}
	cols, exists, err := r.Columns(ctx, schema, name)
	if closeErr := r.closeIn(ctx); err == nil {
		err = closeErr
	}
	return cols, exists, err
}

// ShardTableFor is the shard table foreign partition p of parent reads: named by p's
// schema_name and table_name options, with the parent's columns (as the base server prints
// them) and a CHECK constraint equal to p's bound, so that a row for another shard can be
// neither written nor moved there.
func ShardTableFor(p Partition, parent *Table, identity *Identity) ShardTable {
	t := ShardTable{Server: p.Server, Schema: p.Options["schema_name"], Name: p.Options["table_name"], Columns: parent.Columns,
		CheckName: BoundCheckName(p.Options["table_name"]), Identity: identity}
	if parent.PartitionBy != nil {
		t.Check = p.Bound.CheckSQL(KeySQL(parent.PartitionBy.Key))
	}
	return t
}

// rowsRefused counts the rows of a shard table that CHECK (check) refuses: those for which
// it is false (NULL passes a CHECK).
func (r *ShardSession) rowsRefused(ctx context.Context, schema, name, check string) (int64, error) {
	var n int64
	err := r.query(ctx, "SELECT count(*) FROM "+QualifiedIdent(schema, name)+" WHERE NOT ("+check+")", "n bigint", &n)
	return n, err
}

// ShardRowsRefused counts, on the shard, the rows of a shard table that the bound CHECK
// check would refuse, so that a plan can tell a CHECK repair that will fail.
func ShardRowsRefused(ctx context.Context, db *sql.DB, server, schema, name, check string) (int64, error) {
	var n int64
	err := withShardSession(ctx, db, server, func(r *ShardSession) error {
		var err error
		n, err = r.rowsRefused(ctx, schema, name, check)
		return err
	})
	return n, err
}

// ShardRowsOutsideBoundError: a shard's bound CHECK could not be set (again) because the
// shard table holds rows that the partition's bound does not admit, written there out of
// band. It does not unwrap to the server's check_violation, whose usual meaning (rows
// outside a new bound) is not this one.
type ShardRowsOutsideBoundError struct {
	Server, Schema, Table, CheckName string
	Rows                             int64 // -1 when they could not be counted
	Err                              error
}

func (e *ShardRowsOutsideBoundError) Error() string {
	count := fmt.Sprintf("%d rows", e.Rows)
	if e.Rows < 0 {
		count = "rows"
	}
	return fmt.Sprintf("the shard table %s.%s on server %q holds %s outside the partition's bound, so its bound CHECK constraint %q cannot be set again (the shard says: %v)",
		e.Schema, e.Table, e.Server, count, e.CheckName, e.Err)
}

// ShardDiff is how a managed shard table's columns differ from its parent's, and what makes
// them the same.
type ShardDiff struct {
	Drift  []string // the differences, in words
	Before []string // statements for the shard before the parent's change is visible
	After  []string // statements for the shard after it
	Unmap  []string // local columns whose column_name option goes once the shard renamed them
	// Dropped are the shard's columns that After drops with their values.
	Dropped []string
}

// Empty reports whether the shard table matches.
func (d ShardDiff) Empty() bool { return len(d.Before)+len(d.After)+len(d.Unmap) == 0 }

// diffShard compares a shard table's columns (actual, as the shard prints them) with the
// parent's (as the base prints them). names maps a foreign partition's local column names
// to the shard's (postgres_fdw's column_name option, see foreignColumnNames): a managed shard
// has its column renamed to the local name and the option dropped. drops are the columns
// the parent just dropped, with their values counted and allowed: the shard drops them too.
func diffShard(schema, name string, parent []Column, names map[string]string, actual []Column, drops map[string]bool) ShardDiff {
	var d ShardDiff
	table := QualifiedIdent(schema, name)
	alter := func(clause string) string { return "ALTER TABLE " + table + " " + clause }
	have := map[string]Column{}
	for _, a := range actual {
		have[a.Name] = a
	}
	matched := map[string]bool{}
	for _, c := range parent {
		local := c.Name
		remote, ok := names[local]
		if !ok {
			remote = local
		}
		if remote != local {
			_, hasRemote := have[remote]
			_, hasLocal := have[local]
			switch {
			case hasRemote && !hasLocal:
				d.Before = append(d.Before, alter("RENAME COLUMN "+Ident(remote)+" TO "+Ident(local)))
				d.Drift = append(d.Drift, fmt.Sprintf("column %q is still %q on the shard", local, remote))
				a := have[remote]
				a.Name = local
				have[local] = a
				delete(have, remote)
				d.Unmap = append(d.Unmap, local)
			case hasLocal:
				// The shard was renamed but the mapping stayed (its base transaction
				// failed): the foreign table reads a column the shard no longer has.
				d.Unmap = append(d.Unmap, local)
				d.Drift = append(d.Drift, fmt.Sprintf("column %q is still read from the shard under its old name %q", local, remote))
			}
		}
		matched[local] = true
		a, ok := have[local]
		if !ok {
			c.Name = local
			d.Before = append(d.Before, alter("ADD COLUMN "+shardColumnSQL(c, nil)))
			d.Drift = append(d.Drift, fmt.Sprintf("column %q (%s) is missing", local, shardColumnType(c.Type)))
			continue
		}
		col := "ALTER COLUMN " + Ident(local)
		if want := shardColumnType(c.Type); !sameType(a.Type, want) {
			d.Before = append(d.Before, alter(col+" TYPE "+want))
			d.Drift = append(d.Drift, fmt.Sprintf("column %q is %s on the shard but %s in the parent", local, a.Type, want))
		}
		if c.Generated != a.Generated {
			if c.Generated == "" {
				d.Before = append(d.Before, alter(col+" DROP EXPRESSION"))
			} else {
				// Its values are computed from the others: made again as the parent's, they are
				// what the parent would have written (postgres_fdw sends no generated value).
				c.Name = local
				d.Before = append(d.Before, alter("DROP COLUMN "+Ident(local)+", ADD COLUMN "+shardColumnSQL(c, nil)))
			}
			d.Drift = append(d.Drift, fmt.Sprintf("column %q is generated as %q on the shard but as %q in the parent", local, a.Generated, c.Generated))
			continue
		}
		if want, got := c.Default, a.Default; !a.Identity && !strings.HasPrefix(want, "nextval(") &&
			((want == "") != (got == "") || want != "" && !sameExpression(want, got)) {
			if want == "" {
				d.Before = append(d.Before, alter(col+" DROP DEFAULT"))
			} else {
				d.Before = append(d.Before, alter(col+" SET DEFAULT ("+want+")"))
			}
			d.Drift = append(d.Drift, fmt.Sprintf("column %q has default %q on the shard but %q in the parent", local, got, want))
		}
		if !a.Identity && c.NotNull != a.NotNull {
			if c.NotNull {
				d.After = append(d.After, alter(col+" SET NOT NULL"))
				d.Drift = append(d.Drift, fmt.Sprintf("column %q is nullable on the shard but NOT NULL in the parent", local))
			} else {
				d.Before = append(d.Before, alter(col+" DROP NOT NULL"))
				d.Drift = append(d.Drift, fmt.Sprintf("column %q is NOT NULL on the shard but nullable in the parent", local))
			}
		}
	}
	for _, a := range actual {
		if matched[a.Name] || have[a.Name].Name != a.Name {
			continue
		}
		switch {
		case drops[a.Name]:
			d.After = append(d.After, alter("DROP COLUMN "+Ident(a.Name)))
			d.Dropped = append(d.Dropped, a.Name)
			d.Drift = append(d.Drift, fmt.Sprintf("column %q was dropped from the parent", a.Name))
		case a.NotNull && a.Default == "" && !a.Identity:
			// Not the parent's: inserts through the parent would leave it NULL and fail.
			d.Before = append(d.Before, alter("ALTER COLUMN "+Ident(a.Name)+" DROP NOT NULL"))
			d.Drift = append(d.Drift, fmt.Sprintf("column %q is not in the parent and is NOT NULL without a default, so inserts through the parent fail", a.Name))
		}
	}
	return d
}

// foreignColumnNames maps a foreign table's local column names to its shard table's.
func foreignColumnNames(ctx context.Context, q Querier, schema, name string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `
SELECT a.attname, coalesce((SELECT substr(o, 13) FROM unnest(a.attfdwoptions) o WHERE o LIKE 'column_name=%'), a.attname)
FROM pg_attribute a
WHERE a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND a.attnum > 0 AND NOT a.attisdropped`, schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[string]string{}
	for rows.Next() {
		var local, remote string
		if err := rows.Scan(&local, &remote); err != nil {
			return nil, err
		}
		names[local] = remote
	}
	return names, rows.Err()
}

// unmapColumns drops the column_name option of a foreign table's columns, once the shard
// table's columns carry the local names.
func unmapColumns(ctx context.Context, q Querier, schema, name string, columns []string) error {
	for _, c := range columns {
		stmt := "ALTER FOREIGN TABLE " + QualifiedIdent(schema, name) + " ALTER COLUMN " + Ident(c) + " OPTIONS (DROP column_name)"
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
