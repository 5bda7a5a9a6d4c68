package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// ShardTable is what the shard says of a shard table the provider manages.
type ShardTable struct {
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
func InspectShard(ctx context.Context, db *sql.DB, server, schema, name, checkName string) (*ShardTable, error) {
	var st *ShardTable
	err := withRemote(ctx, db, server, func(r *Remote) error {
		var err error
		st, err = r.inspect(ctx, schema, name, checkName)
		return err
	})
	return st, err
}

func (r *Remote) inspect(ctx context.Context, schema, name, checkName string) (*ShardTable, error) {
	var st ShardTable
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

// foreignShard is a foreign partition and the shard table it reads.
type foreignShard struct {
	Schema, Name              string
	Server                    string
	RemoteSchema, RemoteTable string
}

// foreignShards lists the foreign partitions in a parent's partition tree.
func foreignShards(ctx context.Context, q Querier, schema, name string) ([]foreignShard, error) {
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
	var out []foreignShard
	for rows.Next() {
		var f foreignShard
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
func (st *ShardTable) CheckDrift(checkName, recorded string) []string {
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
func ShardColumnDrift(ctx context.Context, q Querier, schema, name string, parent []Column, st *ShardTable, remoteSchema, remoteTable string) (ShardDiff, error) {
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
func RepairShard(ctx context.Context, db *sql.DB, schema, name string, t RemoteTable) error {
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
		s.OnShard(t.Server, append(append(diff.Before, diff.After...), setRemoteCheckSQL(t.Schema, t.Name, t.CheckName, t.Check))...)
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
	r, err := openRemoteIn(ctx, tx, server)
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
func ShardTableFor(p Partition, parent *Table, identity *Identity) RemoteTable {
	t := RemoteTable{Server: p.Server, Schema: p.Options["schema_name"], Name: p.Options["table_name"], Columns: parent.Columns,
		CheckName: BoundCheckName(p.Options["table_name"]), Identity: identity}
	if parent.PartitionBy != nil {
		t.Check = p.Bound.CheckSQL(KeySQL(parent.PartitionBy.Key))
	}
	return t
}

// UpdateForeignPartition renames, re-points and re-bounds a foreign partition (see
// UpdatePartition) as one change (see Span): the local rename, options, detach and attach
// are the base's part and, when managed (the provider made the shard table) and the bound
// changed, the replacement of the shard's CHECK is the shard's. Nothing commits anywhere
// until both accepted: a shard refusal (rows outside the new bound) or a local failure
// leaves both as they were.
func UpdateForeignPartition(ctx context.Context, db *sql.DB, fromSchema, fromName string, to Partition, managed bool) error {
	return runSpan(ctx, db, func(s *Span) error {
		if !managed {
			_, err := updatePartition(ctx, s.Tx, fromSchema, fromName, to)
			return err
		}
		cur, err := ReadPartition(ctx, s.Tx, fromSchema, fromName)
		if err != nil {
			return err
		}
		boundChanged := true
		if cur.ParentSchema != to.ParentSchema || cur.ParentName != to.ParentName {
			err = reattachManaged(ctx, s.Tx, fromSchema, fromName, to, cur)
		} else {
			boundChanged, err = updatePartition(ctx, s.Tx, fromSchema, fromName, to)
		}
		if err != nil || !boundChanged {
			return err
		}
		key, err := partitionKeyOf(ctx, s.Tx, to.ParentSchema, to.ParentName)
		if err != nil {
			return err
		}
		remoteSchema, remoteTable := to.Options["schema_name"], to.Options["table_name"]
		s.OnShard(to.Server, setRemoteCheckSQL(remoteSchema, remoteTable, BoundCheckName(remoteTable), to.Bound.CheckSQL(KeySQL(key.Key))))
		return nil
	})
}

// reattachManaged is UpdatePartition's re-attach (to another parent, or again after a
// detach out of band) of a managed foreign partition, in tx, with the parent's sequences
// set past the shard's ids as Reattach does, but read through dblink: a read through the
// foreign table would keep the shard table's ACCESS SHARE lock in postgres_fdw's remote
// transaction until the base commits, and the shard's part of the change (its CHECK)
// waits for ACCESS EXCLUSIVE before that.
func reattachManaged(ctx context.Context, tx *sql.Tx, fromSchema, fromName string, to Partition, cur *Partition) error {
	if err := renameRelation(ctx, tx, true, fromSchema, fromName, to.Schema, to.Name); err != nil {
		return err
	}
	if err := alterForeignTableOptions(ctx, tx, to.Schema, to.Name, cur.Options, to.Options); err != nil {
		return err
	}
	logStep(ctx, "attach to "+to.ParentSchema+"."+to.ParentName, to.Schema+"."+to.Name)
	if cur.ParentName != "" {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+cur.Parent()+" DETACH PARTITION "+to.Qualified()); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+to.Parent()+" ATTACH PARTITION "+to.Qualified()+" "+to.Bound.SQL()); err != nil {
		return err
	}
	r, err := openRemoteIn(ctx, tx, to.Server)
	if err != nil {
		return err
	}
	behind, err := shardSequencesBehind(ctx, tx, r, to.ParentSchema, to.ParentName, to.Options["schema_name"], to.Options["table_name"], to.ShardIdentity)
	if closeErr := r.closeIn(ctx); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	for _, seq := range behind {
		logStep(ctx, fmt.Sprintf("advance sequence %s past %d", seq.Sequence, seq.Past), to.Schema+"."+to.Name)
		// From the sequence's own value in the same statement, as AdvanceSequences does.
		if _, err := tx.ExecContext(ctx, "SELECT setval($1::regclass, greatest($2::bigint, last_value)) FROM "+seq.Sequence, seq.Sequence, seq.Past); err != nil {
			return fmt.Errorf("advancing sequence %s past %d: %w", seq.Sequence, seq.Past, err)
		}
	}
	return nil
}

// query runs one query on the shard through dblink and scans its single row into dest,
// typed by columns (dblink's column definition list, such as "n bigint"). Like Columns and
// Answers, the text is built only from quoted names and the base's catalog (it cannot be
// parsed on the base first, as Exec does, since it names tables of the shard).
func (r *Remote) query(ctx context.Context, text, columns string, dest ...any) error {
	if err := r.session().QueryRowContext(ctx, `SELECT * FROM `+r.dblink+`($1, $2) AS t(`+columns+`)`, r.name, r.bounded(text)).Scan(dest...); err != nil {
		return r.fail(fmt.Errorf("querying the shard through server %q: %w", r.server, err))
	}
	return nil
}

// rowsRefused counts the rows of a shard table that CHECK (check) refuses: those for which
// it is false (NULL passes a CHECK).
func (r *Remote) rowsRefused(ctx context.Context, schema, name, check string) (int64, error) {
	var n int64
	err := r.query(ctx, "SELECT count(*) FROM "+QualifiedIdent(schema, name)+" WHERE NOT ("+check+")", "n bigint", &n)
	return n, err
}

// ShardRowsRefused counts, on the shard, the rows of a shard table that the bound CHECK
// check would refuse, so that a plan can tell a CHECK repair that will fail.
func ShardRowsRefused(ctx context.Context, db *sql.DB, server, schema, name, check string) (int64, error) {
	var n int64
	err := withRemote(ctx, db, server, func(r *Remote) error {
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

// ShardSequencesToAdvance says which sequences of the parent schema.name attaching a
// foreign partition over shard table remoteSchema.remoteTable (through server) would set
// past the ids the shard table holds already (those of its own identity range left out),
// read on the shard in one query. It changes nothing.
func ShardSequencesToAdvance(ctx context.Context, db *sql.DB, schema, name, server, remoteSchema, remoteTable string, shardIdentity *Identity) ([]SequenceAdvance, error) {
	var behind []SequenceAdvance
	err := withRemote(ctx, db, server, func(r *Remote) error {
		var err error
		behind, err = shardSequencesBehind(ctx, db, r, schema, name, remoteSchema, remoteTable, shardIdentity)
		return err
	})
	return behind, err
}

// shardSequencesBehind is ShardSequencesToAdvance on a Remote, with the base read through q.
func shardSequencesBehind(ctx context.Context, q Querier, r *Remote, schema, name, remoteSchema, remoteTable string, shardIdentity *Identity) ([]SequenceAdvance, error) {
	cols, err := serialColumns(ctx, q, schema, name)
	if err != nil || len(cols) == 0 {
		return nil, err
	}
	types := make([]string, len(cols))
	for i := range cols {
		types[i] = fmt.Sprintf("m%d bigint", i)
	}
	largest, err := scanMax(cols, func(dest ...any) error {
		return r.query(ctx, maxQuery(QualifiedIdent(remoteSchema, remoteTable), cols, shardIdentity), strings.Join(types, ", "), dest...)
	})
	if err != nil {
		return nil, err
	}
	return sequencesBehind(ctx, q, cols, largest)
}

// CreateForeignPartition creates foreign partition p of parent over a shard table that
// exists already, in one base transaction: detached, checked through postgres_fdw to answer
// the parent's columns, given the DEFAULT rows its bound takes when moveRows, and attached
// last, so that the parent is locked only for the attach.
func CreateForeignPartition(ctx context.Context, db *sql.DB, p Partition, parent *Table, moveRows bool) error {
	return fencedCreate(ctx, db, p, parent, moveRows, func() error {
		return InTx(ctx, db, func(tx *sql.Tx) error {
			_, err := attachNewPartition(ctx, tx, p, parent, moveRows, true)
			return err
		})
	})
}

// CreateForeignPartitionWithShardTable creates the shard table remote when it is missing
// (or checks the one there), checks that it answers a SELECT of the parent's columns, and
// creates and attaches foreign partition p, all through one dblink session (a create never
// holds one pooled connection while waiting for another). The base's part reads the new
// shard table through postgres_fdw, so the shard's CREATE TABLE commits first; a shard
// table this created is dropped again, while empty, if the rest fails (leftBehind says why
// it could not be).
func CreateForeignPartitionWithShardTable(ctx context.Context, db *sql.DB, p Partition, parent *Table, remote RemoteTable, moveRows bool) (leftBehind, err error) {
	// DEFAULT's constraint is added and dropped on connections of their own, before and
	// after the dblink session holds its one (see fencedCreate).
	err = fencedCreate(ctx, db, p, parent, moveRows, func() error {
		leftBehind, err = createWithShardTable(ctx, db, p, parent, remote, moveRows)
		return err
	})
	return leftBehind, err
}

// createWithShardTable is CreateForeignPartitionWithShardTable inside DEFAULT's constraint.
func createWithShardTable(ctx context.Context, db *sql.DB, p Partition, parent *Table, remote RemoteTable, moveRows bool) (leftBehind, err error) {
	shard, err := OpenRemote(ctx, db, p.Server)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, shard.Close()) }()
	cols, exists, err := shard.Columns(ctx, remote.Schema, remote.Name)
	created := false
	switch {
	case err != nil:
		return nil, err
	case !exists:
		if err := shard.CreateTable(ctx, remote); err != nil {
			return nil, err
		}
		created = true
	default:
		if err := checkRemoteColumns(parent.Columns, cols); err != nil {
			return nil, err
		}
	}
	err = shard.Answers(ctx, remote.Schema, remote.Name, parent.Columns)
	if err == nil {
		err = shard.InTx(ctx, func(tx *sql.Tx) error {
			_, err := attachNewPartition(ctx, tx, p, parent, moveRows, false)
			return err
		})
	}
	if err != nil && created {
		// New, so it holds no rows of anyone's.
		leftBehind = shard.DropTableIfEmpty(ctx, remote.Schema, remote.Name)
	}
	return leftBehind, err
}
