package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// Partition is a partition of a partitioned table: local, or foreign (Server set).
type Partition struct {
	Schema       string
	Name         string
	ParentSchema string
	ParentName   string
	Bound        Bound
	Foreign      bool
	Server       string
	// Options are the foreign table's options, schema_name and table_name included.
	Options map[string]string
	// ShardIdentity is the shard table's own id range (remote_identity), when known: ids from
	// it are not the parent sequence's, so an attach never sets the sequence past them.
	ShardIdentity *Identity
}

// Qualified is the quoted schema.name.
func (p Partition) Qualified() string { return QualifiedIdent(p.Schema, p.Name) }

// Parent is the quoted schema.name of the parent.
func (p Partition) Parent() string { return QualifiedIdent(p.ParentSchema, p.ParentName) }

// createPartitionSQL renders CREATE [FOREIGN] TABLE ... PARTITION OF ... .
func createPartitionSQL(p Partition) string {
	if p.Foreign {
		return "CREATE FOREIGN TABLE " + p.Qualified() + " PARTITION OF " + p.Parent() + " " + p.Bound.SQL() +
			" SERVER " + Ident(p.Server) + CreateOptionsClause(p.Options)
	}
	return "CREATE TABLE " + p.Qualified() + " PARTITION OF " + p.Parent() + " " + p.Bound.SQL()
}

// ReadPartition reads a partition; ErrNotFound when no relation has the name. A relation
// that exists but is not a partition reads with empty parent fields.
func ReadPartition(ctx context.Context, q Querier, schema, name string) (*Partition, error) {
	p := &Partition{Schema: schema, Name: name}
	var parentSchema, parentName, bound, server sql.NullString
	var kind string
	var opts []string
	err := q.QueryRowContext(ctx, `
SELECT c.relkind::text, pn.nspname, pc.relname, pg_get_expr(c.relpartbound, c.oid), s.srvname,
       coalesce(ft.ftoptions, '{}')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
LEFT JOIN pg_class pc ON pc.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server s ON s.oid = ft.ftserver
WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&kind, &parentSchema, &parentName, &bound, &server, pq.Array(&opts))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading partition %s.%s: %w", schema, name, err)
	}
	p.Foreign = RelKind(kind) == RelForeign
	p.Server = server.String
	p.ParentSchema, p.ParentName = parentSchema.String, parentName.String
	p.Options = parseOptionArray(opts)
	if bound.Valid {
		if p.Bound, err = parseBound(bound.String); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// createPartition creates the partition.
func createPartition(ctx context.Context, q Querier, p Partition) error {
	logStep(ctx, "create partition", p.Schema+"."+p.Name)
	_, err := q.ExecContext(ctx, createPartitionSQL(p))
	return err
}

// changeBound detaches the partition and attaches it again with a new bound. Run it in a
// transaction: in between, the partition's rows are not reachable through the parent.
func changeBound(ctx context.Context, q *sql.Tx, p Partition, to Bound) error {
	logStep(ctx, "detach and attach with a new bound", p.Schema+"."+p.Name)
	def, err := defaultPartition(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil {
		return err
	}
	if err := lockForSwitch(ctx, q, p.Parent(), def, localTable(p)); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" DETACH PARTITION "+p.Qualified()); err != nil {
		return err
	}
	if err := yieldHoldings(ctx, q, p, to); err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+p.Qualified()+" "+to.SQL())
	return err
}

// alterForeignTableOptions changes a foreign table's options in place.
func alterForeignTableOptions(ctx context.Context, q Querier, schema, name string, from, to map[string]string) error {
	logStep(ctx, "alter foreign table options", schema+"."+name)
	clause := alterOptionsClause(diffOptions(from, to))
	if clause == "" {
		return nil
	}
	_, err := q.ExecContext(ctx, "ALTER FOREIGN TABLE "+QualifiedIdent(schema, name)+" "+clause)
	return err
}

// DropForeignTable drops a foreign table locally; the remote table and its rows stay.
func DropForeignTable(ctx context.Context, db *sql.DB, schema, name string) error {
	return dropRelation(ctx, db, "FOREIGN TABLE", schema, name, func(*sql.Tx) error { return nil })
}

// PartitionInfo is one row of a parent's shard map.
type PartitionInfo struct {
	Schema    string
	Name      string
	Kind      RelKind
	Foreign   bool
	Server    string
	Bound     string // as PostgreSQL renders it
	IsDefault bool
}

// ListPartitions returns the direct partitions of a parent, ordered by schema and name.
func ListPartitions(ctx context.Context, q Querier, schema, name string) ([]PartitionInfo, error) {
	oid, kind, _, err := relation(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	if kind != RelPartitioned {
		return nil, fmt.Errorf("%s.%s is not a partitioned table", schema, name)
	}
	return partitionsOf(ctx, q, oid)
}

// partitionsOf lists the direct partitions of the parent with that oid, ordered by schema
// and name.
func partitionsOf(ctx context.Context, q Querier, parent uint32) ([]PartitionInfo, error) {
	rows, err := q.QueryContext(ctx, `
SELECT n.nspname, c.relname, c.relkind::text, coalesce(s.srvname, ''), pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server s ON s.oid = ft.ftserver
WHERE i.inhparent = $1
ORDER BY n.nspname, c.relname`, parent)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PartitionInfo
	for rows.Next() {
		var p PartitionInfo
		if err := rows.Scan(&p.Schema, &p.Name, &p.Kind, &p.Server, &p.Bound); err != nil {
			return nil, err
		}
		p.Foreign, p.IsDefault = p.Kind == RelForeign, p.Bound == "DEFAULT"
		out = append(out, p)
	}
	return out, rows.Err()
}

// partitionKeyOf returns the parent's partition key rendered as SQL, for CHECK constraints.
func partitionKeyOf(ctx context.Context, q Querier, schema, name string) (*PartitionKey, error) {
	t, err := ReadTable(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	if t.PartitionBy == nil {
		return nil, fmt.Errorf("%s.%s is not a partitioned table", schema, name)
	}
	return t.PartitionBy, nil
}

// DefaultRowsMatching counts the rows of the parent's local DEFAULT partition (and of its
// holding partitions, see holding.go) that the bound would admit: they block creating the
// partition. It returns the DEFAULT partition's
// name too ("" when the parent has none).
func DefaultRowsMatching(ctx context.Context, q Querier, parent *Table, b Bound) (string, int64, error) {
	def, err := defaultPartition(ctx, q, parent.Schema, parent.Name)
	if err != nil || def == "" || parent.PartitionBy == nil {
		return "", 0, err
	}
	check := b.CheckSQL(KeySQL(parent.PartitionBy.Key))
	if check == "" {
		return def, 0, nil
	}
	hs, err := holdingsOf(ctx, q, parent.Schema, parent.Name)
	if err != nil {
		return "", 0, err
	}
	var n int64
	err = q.QueryRowContext(ctx, "SELECT count(*) FROM "+defaultSide(def, hs, columnList(parent.Columns))+" WHERE "+check).Scan(&n)
	return def, n, err
}

// writtenColumns leaves out generated columns: rows are copied with the values of the
// others, and each target computes its generated ones (writing them is refused).
func writtenColumns(cols []Column) []Column {
	out := make([]Column, 0, len(cols))
	for _, c := range cols {
		if c.Generated == "" {
			out = append(out, c)
		}
	}
	return out
}

// columnList renders the quoted, comma-separated names of columns.
func columnList(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return identList(names)
}

// verifyForeignColumns checks, through postgres_fdw, that the shard table behind a foreign
// table answers a SELECT of every given column. Run it inside the transaction that created
// the foreign table: on failure it names each column the shard does not have.
func verifyForeignColumns(ctx context.Context, tx *sql.Tx, schema, name string, cols []Column) error {
	table := QualifiedIdent(schema, name)
	probe := func(list string) error {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT pgshard_probe"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "SELECT "+list+" FROM ONLY "+table+" LIMIT 1")
		if err != nil {
			if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT pgshard_probe"); rbErr != nil {
				return rbErr
			}
			return err
		}
		_, relErr := tx.ExecContext(ctx, "RELEASE SAVEPOINT pgshard_probe")
		return relErr
	}
	err := probe(columnList(cols))
	if err == nil {
		return nil
	}
	var missing []string
	for _, c := range cols {
		if probe(Ident(c.Name)) != nil {
			missing = append(missing, fmt.Sprintf("%q", c.Name))
		}
	}
	if len(missing) > 0 && len(missing) < len(cols) {
		return fmt.Errorf("the shard table does not answer a SELECT of the parent's columns: missing columns %s (%w)", strings.Join(missing, ", "), err)
	}
	return fmt.Errorf("the shard table does not answer a SELECT of the parent's columns: %w", err)
}

// attachCheckName is the CHECK of its bound that a new local partition holds while rows move
// into it (AttachNewPartition).
const attachCheckName = "pgshard_attach_bound"

// attachNewPartition adds a partition the way that holds the parent's locks the least and
// can move rows: in the transaction given, it creates the partition detached, checks (for a
// foreign partition, when verify is set) that the shard table answers a SELECT of the
// parent's columns, moves the DEFAULT partition's rows its bound admits into it when
// moveRows is set (through the foreign server for a shard; DEFAULT is locked against
// inserts meanwhile), and attaches it, setting the parent's sequences past the ids it holds
// (AdvanceSequences). It returns how many rows moved. Bounds without a
// CHECK form (HASH, DEFAULT) cannot move rows.
func attachNewPartition(ctx context.Context, tx *sql.Tx, p Partition, parent *Table, moveRows, verify bool) (int64, error) {
	logStep(ctx, "create detached, check, move DEFAULT rows if asked, attach", p.Schema+"."+p.Name)
	if parent.PartitionBy == nil {
		return 0, fmt.Errorf("%s is not a partitioned table", p.Parent())
	}
	check := p.Bound.CheckSQL(KeySQL(parent.PartitionBy.Key))
	if moveRows && check == "" {
		return 0, fmt.Errorf("rows can only be moved out of DEFAULT into a LIST or RANGE partition")
	}
	if moveRows {
		// Before anything of the parent is locked: moves of rows of one parent take turns.
		if err := lockMoveIn(ctx, tx, p); err != nil {
			return 0, err
		}
	}
	var err error
	if p.Foreign {
		_, err = tx.ExecContext(ctx, createForeignTableSQL(p, parent))
	} else {
		_, err = tx.ExecContext(ctx, "CREATE TABLE "+p.Qualified()+" (LIKE "+p.Parent()+" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)")
	}
	if err != nil {
		return 0, err
	}
	// A local partition that rows move into holds its bound as a CHECK while they do (checked
	// row by row as they arrive), so that the ATTACH, with DEFAULT or the parent locked, need
	// not scan them. It goes right after the ATTACH.
	attachCheck := ""
	if moveRows && !p.Foreign {
		attachCheck = p.Bound.PartitionCheckSQL(KeySQL(parent.PartitionBy.Key))
		if attachCheck != "" {
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Qualified()+" ADD CONSTRAINT "+Ident(attachCheckName)+" CHECK ("+attachCheck+")"); err != nil {
				return 0, err
			}
		}
	}
	if verify && p.Foreign {
		if err := verifyForeignColumns(ctx, tx, p.Schema, p.Name, parent.Columns); err != nil {
			return 0, err
		}
	}
	var moved int64
	var fenced bool
	var def string
	var claims []claim
	if !moveRows {
		// Holding partitions of the bound's keys (empty of them) make way.
		if err := yieldHoldings(ctx, tx, p, p.Bound); err != nil {
			return 0, err
		}
		if def, err = validateCreateFence(ctx, tx, p, false); err != nil {
			return 0, err
		}
		fenced = def != ""
	}
	if moveRows {
		def, err = defaultPartition(ctx, tx, p.ParentSchema, p.ParentName)
		if err != nil {
			return 0, err
		}
		if def != "" {
			if fenced, err = hasConstraint(ctx, tx, def, fenceName(p)); err != nil {
				return 0, err
			}
			if fenced {
				// DEFAULT refuses new rows of the bound (see fencedCreate): the rows move with
				// DEFAULT open to everyone else. The parent's lock that ATTACH takes comes
				// first (lock order: the parent before its partitions); it blocks only DDL.
				if err := lockBriefly(ctx, tx, "LOCK TABLE ONLY "+p.Parent()+" IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
					return 0, err
				}
			} else if _, err := tx.ExecContext(ctx, "LOCK TABLE "+def+" IN EXCLUSIVE MODE"); err != nil {
				return 0, err
			}
			cols := columnList(writtenColumns(parent.Columns))
			logProgress(ctx, "move the DEFAULT rows of the new bound into the partition", p.Schema+"."+p.Name)
			res, err := tx.ExecContext(ctx, "WITH moved AS (DELETE FROM ONLY "+def+" WHERE "+check+" RETURNING "+cols+") "+
				"INSERT INTO "+p.Qualified()+" ("+cols+") SELECT "+cols+" FROM moved")
			if err != nil {
				return 0, &MoveRowsError{Default: def, To: p.Qualified(), Err: err}
			}
			moved, _ = res.RowsAffected()
			// The holding partitions of the bound's keys give theirs too (see holding.go).
			if claims, err = claimsOf(ctx, tx, p.ParentSchema, p.ParentName, p.Bound); err != nil {
				return 0, err
			}
			if len(claims) > 0 && !fenced {
				return 0, fmt.Errorf("rows of the bound %s are held in %s, and DEFAULT %s has no move constraint %s to move them online: apply again", p.Bound, claims[0].Table, def, fenceName(p))
			}
			fromHoldings, err := takeFromClaims(ctx, tx, p, claims, p.Qualified(), cols, check)
			if err != nil {
				return 0, err
			}
			moved += fromHoldings
			if fenced {
				logStep(ctx, "check that DEFAULT holds no row of the new bound (without locking it)", def)
				if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" VALIDATE CONSTRAINT "+Ident(fenceName(p))); err != nil {
					return 0, err
				}
				if len(claims) > 0 {
					// The holdings are detached, which locks the parent too.
					logStep(ctx, "attach and commit (the parent is locked from here to the commit)", p.Schema+"."+p.Name)
					if err := lockBriefly(ctx, tx, "LOCK TABLE ONLY "+p.Parent()+", ONLY "+def+" IN ACCESS EXCLUSIVE MODE"); err != nil {
						return 0, err
					}
					if err := detachClaims(ctx, tx, p.Parent(), claims); err != nil {
						return 0, err
					}
				} else {
					logStep(ctx, "attach and commit (DEFAULT is locked from here to the commit)", p.Schema+"."+p.Name)
					if err := lockBriefly(ctx, tx, "LOCK TABLE ONLY "+def+" IN ACCESS EXCLUSIVE MODE"); err != nil {
						return 0, err
					}
				}
			}
		}
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+p.Qualified()+" "+p.Bound.SQL()); err != nil {
		return 0, err
	}
	if attachCheck != "" {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Qualified()+" DROP CONSTRAINT "+Ident(attachCheckName)); err != nil {
			return 0, err
		}
	}
	if err := settleClaims(ctx, tx, p.Parent(), p.ParentName, p, claims); err != nil {
		return 0, err
	}
	if fenced {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" DROP CONSTRAINT "+Ident(fenceName(p))); err != nil {
			return 0, err
		}
	}
	if err := advanceSequences(ctx, tx, p); err != nil {
		return 0, err
	}
	return moved, nil
}

// defaultPartition names the parent's local DEFAULT partition (quoted), or "" for none.
func defaultPartition(ctx context.Context, q Querier, schema, name string) (string, error) {
	var def sql.NullString
	err := q.QueryRowContext(ctx, `
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = format('%I.%I', $1::text, $2::text)::regclass
  AND c.relkind = 'r' AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'`, schema, name).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return def.String, err
}

// foreignPartitionsLagging lists the parent's foreign partitions whose shard table no
// longer answers a SELECT of the parent's columns (after a column was added to the parent,
// say), as "schema.name: reason". It changes nothing: the probes run in a transaction that
// is rolled back.
func foreignPartitionsLagging(ctx context.Context, db *sql.DB, parent *Table) ([]string, error) {
	parts, err := ListPartitions(ctx, db, parent.Schema, parent.Name)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }() // probes only: there is nothing to keep
	// A probe reads through postgres_fdw, whose shard session takes no lock_timeout from the
	// provider: the probes as a whole wait at most the base's lock_timeout.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('statement_timeout', current_setting('lock_timeout'), true)`); err != nil {
		return nil, err
	}
	var lagging []string
	for _, p := range parts {
		if !p.Foreign {
			continue
		}
		if err := verifyForeignColumns(ctx, tx, p.Schema, p.Name, parent.Columns); err != nil {
			lagging = append(lagging, fmt.Sprintf("%s.%s (server %s): %v", p.Schema, p.Name, p.Server, err))
		}
	}
	return lagging, nil
}

// renameRelation moves a table, partition or foreign table to schema toSchema and renames
// it to toName, in the transaction given. Rows, partitions and (for a foreign table) the
// shard table it reads stay as they are.
func renameRelation(ctx context.Context, tx *sql.Tx, foreign bool, fromSchema, fromName, toSchema, toName string) error {
	logStep(ctx, "rename or move to "+toSchema+"."+toName, fromSchema+"."+fromName)
	kind := "TABLE "
	if foreign {
		kind = "FOREIGN TABLE "
	}
	if fromSchema != toSchema {
		if _, err := tx.ExecContext(ctx, "ALTER "+kind+QualifiedIdent(fromSchema, fromName)+" SET SCHEMA "+Ident(toSchema)); err != nil {
			return err
		}
	}
	if fromName != toName {
		if _, err := tx.ExecContext(ctx, "ALTER "+kind+QualifiedIdent(toSchema, fromName)+" RENAME TO "+Ident(toName)); err != nil {
			return err
		}
	}
	return nil
}

// reattach attaches the partition to the parent p names, with p's bound: detached first
// from the parent it is attached to now (current, "" parent name when detached), all in
// the transaction given, so that its rows stay where they are; the parent's sequences are
// then set past the ids it holds (AdvanceSequences).
func reattach(ctx context.Context, tx *sql.Tx, p Partition, current *Partition) error {
	logStep(ctx, "attach to "+p.ParentSchema+"."+p.ParentName, p.Schema+"."+p.Name)
	if current != nil && current.ParentName != "" {
		def, err := defaultPartition(ctx, tx, current.ParentSchema, current.ParentName)
		if err != nil {
			return err
		}
		if err := lockForSwitch(ctx, tx, current.Parent(), def, localTable(p)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+current.Parent()+" DETACH PARTITION "+p.Qualified()); err != nil {
			return err
		}
	}
	if err := yieldHoldings(ctx, tx, p, p.Bound); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+p.Qualified()+" "+p.Bound.SQL()); err != nil {
		return err
	}
	err := advanceSequences(ctx, tx, p)
	return err
}

// createForeignTableSQL is the CREATE FOREIGN TABLE of p, detached, with parent's columns.
func createForeignTableSQL(p Partition, parent *Table) string {
	defs := make([]string, len(parent.Columns))
	for i, c := range parent.Columns {
		typ := c.Type
		if base, ok := serialBase[CanonicalType(typ)]; ok {
			typ = base
		}
		defs[i] = Ident(c.Name) + " " + typ
		if c.NotNull {
			defs[i] += " NOT NULL"
		}
		if c.Generated != "" {
			// A partition's column is generated where the parent's is (ATTACH requires it).
			defs[i] += " GENERATED ALWAYS AS (" + c.Generated + ") STORED"
		}
	}
	return "CREATE FOREIGN TABLE " + p.Qualified() + " (" + strings.Join(defs, ", ") + ") SERVER " + Ident(p.Server) + CreateOptionsClause(p.Options)
}

// CreateLocalPartition creates local partition p of parent in one transaction: attached
// at once, or, when moveRows, created detached, given the DEFAULT partition's rows its
// bound takes, and attached (see AttachNewPartition).
func CreateLocalPartition(ctx context.Context, db *sql.DB, p Partition, parent *Table, moveRows bool) error {
	return fencedCreate(ctx, db, p, parent, moveRows, func() error {
		return inTx(ctx, db, func(tx *sql.Tx) error {
			if moveRows {
				_, err := attachNewPartition(ctx, tx, p, parent, true, false)
				return err
			}
			if err := yieldHoldings(ctx, tx, p, p.Bound); err != nil {
				return err
			}
			def, err := validateCreateFence(ctx, tx, p, true)
			if err != nil {
				return err
			}
			if err := createPartition(ctx, tx, p); err != nil {
				return err
			}
			if def == "" {
				return nil
			}
			_, err = tx.ExecContext(ctx, "ALTER TABLE "+def+" DROP CONSTRAINT "+Ident(fenceName(p)))
			return err
		})
	})
}

// validateCreateFence makes way, inside tx, for partition p created without moving rows
// while DEFAULT carries p's move constraint (fencedCreate): it validates the constraint (a
// scan of DEFAULT that blocks no reader or writer; DEFAULT holding a row of p's bound is an
// error saying so), then locks DEFAULT, briefly at a time and after the parent (ACCESS
// EXCLUSIVE for a CREATE ... PARTITION OF, whole, else SHARE UPDATE EXCLUSIVE as ATTACH
// takes it), so that the CREATE or ATTACH that follows proves DEFAULT holds none of p's
// rows instead of scanning it under that lock. It returns DEFAULT, or "" when there is no
// constraint (then the caller drops nothing).
func validateCreateFence(ctx context.Context, tx *sql.Tx, p Partition, create bool) (string, error) {
	def, err := defaultPartition(ctx, tx, p.ParentSchema, p.ParentName)
	if err != nil || def == "" {
		return "", err
	}
	fenced, err := hasConstraint(ctx, tx, def, fenceName(p))
	if err != nil || !fenced {
		return "", err
	}
	if err := lockBriefly(ctx, tx, "LOCK TABLE ONLY "+p.Parent()+" IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		return "", err
	}
	logStep(ctx, "check that DEFAULT holds no row of the new bound (without locking it)", def)
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" VALIDATE CONSTRAINT "+Ident(fenceName(p))); err != nil {
		if se := ServerErrorOf(err); se != nil && se.Code == "23514" {
			return "", fmt.Errorf("the DEFAULT partition %s holds rows of the bound %s, which would belong to %s: move them in with move_rows_from_default = true, or out of DEFAULT yourself; nothing was changed",
				def, p.Bound, p.Qualified())
		}
		return "", err
	}
	lock := "LOCK TABLE ONLY " + def + " IN ACCESS EXCLUSIVE MODE"
	if create {
		lock = "LOCK TABLE ONLY " + p.Parent() + ", ONLY " + def + " IN ACCESS EXCLUSIVE MODE"
	}
	logStep(ctx, "attach and commit (DEFAULT is locked from here to the commit)", p.Schema+"."+p.Name)
	if err := lockBriefly(ctx, tx, lock); err != nil {
		return "", err
	}
	return def, nil
}

// fencedCreate runs create, a transaction that creates partition p and moves DEFAULT's rows
// of its bound into it (AttachNewPartition), with DEFAULT's constraint fenceName(p) in
// place from before it: DEFAULT refuses new rows of the bound (the error names the
// constraint) instead of being locked against every insert while the rows move, and the
// constraint, validated in create, spares ATTACH its scan of DEFAULT. The constraint goes
// with create's commit, or after it fails (a refresh of the parent drops one a kill left).
func fencedCreate(ctx context.Context, db *sql.DB, p Partition, parent *Table, moveRows bool, create func() error) error {
	if parent.PartitionBy == nil || p.Bound.isNone() {
		return create()
	}
	check := p.Bound.CheckSQL(KeySQL(parent.PartitionBy.Key))
	def, err := defaultPartition(ctx, db, p.ParentSchema, p.ParentName)
	if err != nil {
		return err
	}
	if check == "" || def == "" {
		return create()
	}
	// A create that moves no rows fences DEFAULT too: validated in create, the constraint
	// spares the CREATE or ATTACH its scan of DEFAULT under their lock (see
	// validateCreateFence). Only a create that moves rows takes them from holdings.
	var claims []claim
	key := KeySQL(parent.PartitionBy.Key)
	if moveRows {
		if claims, err = claimsOf(ctx, db, p.ParentSchema, p.ParentName, p.Bound); err != nil {
			return err
		}
		if err := addHoldingFences(ctx, db, p, claims, key); err != nil {
			return dropDefaultFence(ctx, db, def, p, err)
		}
	}
	if err := addDefaultFence(ctx, db, def, p, fenceChecks(check, claims, key)...); err != nil {
		return dropDefaultFence(ctx, db, def, p, err)
	}
	if err := create(); err != nil {
		return dropDefaultFence(ctx, db, def, p, err)
	}
	return nil
}

// hasConstraint reports whether table (qualified) has a constraint of that name.
func hasConstraint(ctx context.Context, q Querier, table, name string) (bool, error) {
	var found bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2)`, table, name).Scan(&found)
	return found, err
}

// UpdateLocalPartition renames, re-parents and re-bounds a local partition from
// fromSchema.fromName in one transaction (see UpdatePartition).
func UpdateLocalPartition(ctx context.Context, db *sql.DB, fromSchema, fromName string, p Partition) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := updatePartition(ctx, tx, fromSchema, fromName, p)
		return err
	})
}

// updatePartition brings the partition now named fromSchema.fromName to p, in the
// transaction given: renamed or moved to p's schema, its foreign-table options changed,
// attached to p's parent (detached from another first, or attached again after it was
// detached out of band) and given p's bound. Rows stay where they are throughout. It
// returns the partition as it was and whether its bound changed.
func updatePartition(ctx context.Context, tx *sql.Tx, fromSchema, fromName string, p Partition) (bool, error) {
	if err := renameRelation(ctx, tx, p.Foreign, fromSchema, fromName, p.Schema, p.Name); err != nil {
		return false, err
	}
	cur, err := ReadPartition(ctx, tx, p.Schema, p.Name)
	if err != nil {
		return false, err
	}
	if p.Foreign {
		if err := alterForeignTableOptions(ctx, tx, p.Schema, p.Name, cur.Options, p.Options); err != nil {
			return false, err
		}
	}
	// The wanted bound in the server's form, so that a spelling of the current one changes nothing.
	if p.Bound, err = canonicalBoundIn(ctx, tx, p.ParentSchema, p.ParentName, p.Bound); err != nil {
		return false, err
	}
	boundChanged := cur.ParentName == "" || !cur.Bound.Equal(p.Bound)
	switch {
	case cur.ParentSchema != p.ParentSchema || cur.ParentName != p.ParentName:
		err = reattach(ctx, tx, p, cur)
	case boundChanged:
		err = changeBound(ctx, tx, p, p.Bound)
	}
	return boundChanged, err
}

// MoveRowsError says that the DEFAULT partition's rows could not be moved into a new
// partition (for a shard, written into its shard table): nothing moved.
type MoveRowsError struct {
	Default, To string // quoted names
	Err         error
	IntoDefault bool // rows were leaving partition To for the DEFAULT partition
}

func (e *MoveRowsError) Error() string {
	if e.IntoDefault {
		return fmt.Sprintf("moving rows of %s into the DEFAULT partition %s: %v", e.To, e.Default, e.Err)
	}
	return fmt.Sprintf("moving rows out of the DEFAULT partition %s into %s: %v", e.Default, e.To, e.Err)
}

func (e *MoveRowsError) Unwrap() error { return e.Err }

// SequenceAdvance is a sequence that draws a parent's column default (serial, bigserial, a
// nextval default, an identity), set past the largest value of that column that a partition
// attached to the parent holds, so that the next row through the parent gets an unused id.
type SequenceAdvance struct {
	Column   string
	Sequence string // schema-qualified and quoted
	Past     int64  // the largest value the partition holds; the next value is above it
}

// serialColumns lists the parent's integer columns whose values come from a sequence with a
// positive increment: a nextval default (its pg_attrdef depends on the sequence) or an
// identity column (its sequence depends on the column).
func serialColumns(ctx context.Context, q Querier, schema, name string) ([]SequenceAdvance, error) {
	rows, err := q.QueryContext(ctx, `
WITH rel AS (SELECT format('%I.%I', $1::text, $2::text)::regclass AS oid),
uses AS (
  SELECT ad.adnum AS attnum, d.refobjid AS seq
  FROM pg_attrdef ad JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
  WHERE ad.adrelid = (SELECT oid FROM rel)
  UNION
  SELECT d.refobjsubid, d.objid
  FROM pg_depend d
  WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = (SELECT oid FROM rel) AND d.deptype = 'i')
SELECT a.attname, format('%I.%I', n.nspname, c.relname)
FROM uses u
JOIN pg_attribute a ON a.attrelid = (SELECT oid FROM rel) AND a.attnum = u.attnum AND NOT a.attisdropped
JOIN pg_class c ON c.oid = u.seq AND c.relkind = 'S'
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid AND s.seqincrement > 0
WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
ORDER BY a.attnum`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("listing the sequence-drawn columns of %s.%s: %w", schema, name, err)
	}
	defer rows.Close()
	var out []SequenceAdvance
	for rows.Next() {
		var s SequenceAdvance
		if err := rows.Scan(&s.Column, &s.Sequence); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// sequencesBehind keeps, of the parent's sequence-drawn columns, those whose sequence would
// hand out a value at or below the largest one held (largest, by column; a column missing
// from it holds none), with Past set to that value.
func sequencesBehind(ctx context.Context, q Querier, cols []SequenceAdvance, largest map[string]int64) ([]SequenceAdvance, error) {
	var out []SequenceAdvance
	for _, s := range cols {
		m, ok := largest[s.Column]
		if !ok {
			continue
		}
		var behind bool
		if err := q.QueryRowContext(ctx, "SELECT last_value < $1 OR last_value = $1 AND NOT is_called FROM "+s.Sequence, m).Scan(&behind); err != nil {
			return nil, fmt.Errorf("reading sequence %s: %w", s.Sequence, err)
		}
		if behind {
			s.Past = m
			out = append(out, s)
		}
	}
	return out, nil
}

// maxQuery renders the query that reads, in one scan of from ("ONLY schema.name"), the
// largest value of each column, leaving out the ids of the shard's own identity range.
func maxQuery(from string, cols []SequenceAdvance, shardIdentity *Identity) string {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = "max(" + Ident(c.Column) + ")"
		if id := shardIdentity; id != nil && id.Column == c.Column && id.Start > 1 {
			exprs[i] += fmt.Sprintf(" FILTER (WHERE %s < %d)", Ident(c.Column), id.Start)
		}
		exprs[i] += "::bigint"
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + from
}

// scanMax runs scan into one NullInt64 per column and keeps the columns holding a value.
func scanMax(cols []SequenceAdvance, scan func(dest ...any) error) (map[string]int64, error) {
	values := make([]sql.NullInt64, len(cols))
	dest := make([]any, len(cols))
	for i := range cols {
		dest[i] = &values[i]
	}
	if err := scan(dest...); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for i, c := range cols {
		if values[i].Valid {
			out[c.Column] = values[i].Int64
		}
	}
	return out, nil
}

// SequencesToAdvance says which of the parent's sequences attaching the existing relation p
// (a detached partition, or a partitioned table, whose leaves it reads) would set past the
// values p holds. It changes nothing.
func SequencesToAdvance(ctx context.Context, q Querier, p Partition) ([]SequenceAdvance, error) {
	cols, err := serialColumns(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil || len(cols) == 0 {
		return nil, err
	}
	largest, err := scanMax(cols, q.QueryRowContext(ctx, maxQuery(p.Qualified(), cols, p.ShardIdentity)).Scan)
	if err != nil {
		return nil, fmt.Errorf("reading the largest ids of %s: %w", p.Qualified(), err)
	}
	return sequencesBehind(ctx, q, cols, largest)
}

// advanceSequences sets each sequence that draws a column default of p's parent past the
// largest value of that column that p holds, in the transaction that attaches p: rows a
// shard kept from an earlier stack (a parent destroyed and created again starts its
// sequence at 1) would otherwise share their ids with the next rows inserted through the
// parent. A sequence already past them is left alone, and so are the ids of the shard's own
// identity range (p.ShardIdentity).
func advanceSequences(ctx context.Context, tx *sql.Tx, p Partition) error {
	behind, err := SequencesToAdvance(ctx, tx, p)
	if err != nil {
		return err
	}
	for _, s := range behind {
		logStep(ctx, fmt.Sprintf("advance sequence %s past %d", s.Sequence, s.Past), p.Schema+"."+p.Name)
		// Set from the sequence's own value in the same statement, so a nextval made
		// meanwhile by another session is never taken back.
		if _, err := tx.ExecContext(ctx, "SELECT setval($1::regclass, greatest($2::bigint, last_value)) FROM "+s.Sequence, s.Sequence, s.Past); err != nil {
			return fmt.Errorf("advancing sequence %s past %d: %w", s.Sequence, s.Past, err)
		}
	}
	return nil
}

// PartitionColumnsError says that the columns given for a partition are not its parent's:
// a partition has exactly the parent's columns.
type PartitionColumnsError struct {
	Parent  string   // schema.name
	Missing []string // the parent's columns not given
	Extra   []string // columns given that the parent lacks
}

func (e *PartitionColumnsError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "the parent's columns "+strings.Join(e.Missing, ", ")+" are missing")
	}
	if len(e.Extra) > 0 {
		parts = append(parts, "the columns "+strings.Join(e.Extra, ", ")+" are not the parent's")
	}
	return "a partition of " + e.Parent + " has the parent's columns, but " + strings.Join(parts, " and ")
}

// SameColumnNames refuses, with a *PartitionColumnsError, columns whose names are not the
// parent's (in any order: PostgreSQL matches a partition's columns by name). Types are the
// server's to compare: ATTACH refuses a column of another type, naming it.
func SameColumnNames(parent *Table, cols []Column) error {
	have, want := columnNames(cols), columnNames(parent.Columns)
	e := &PartitionColumnsError{Parent: parent.Schema + "." + parent.Name}
	for _, c := range parent.Columns {
		if !have[c.Name] {
			e.Missing = append(e.Missing, c.Name)
		}
	}
	for _, c := range cols {
		if !want[c.Name] {
			e.Extra = append(e.Extra, c.Name)
		}
	}
	if len(e.Missing)+len(e.Extra) == 0 {
		return nil
	}
	return e
}

func columnNames(cols []Column) map[string]bool {
	names := make(map[string]bool, len(cols))
	for _, c := range cols {
		names[c.Name] = true
	}
	return names
}

// CreatePartitionedPartition creates t, partitioned by its own key, as partition p of
// p's parent (a table partitioned in two levels, such as by region and then by month). It
// is created detached, with the columns given (which must be the parent's) or with the
// parent's (LIKE, with their defaults and CHECK constraints, which ATTACH requires), and
// then attached as AttachDetached does, so that no step reads the parent's
// DEFAULT under a lock: the new table holds no row, and DEFAULT's rows are checked first.
func CreatePartitionedPartition(ctx context.Context, db *sql.DB, t Table, p Partition) error {
	logStep(ctx, "create partitioned partition of "+p.ParentSchema+"."+p.ParentName, t.Schema+"."+t.Name)
	by, err := partitionBySQL(t.PartitionBy)
	if err != nil {
		return err
	}
	if by == "" {
		return fmt.Errorf("%s.%s has no partition key", t.Schema, t.Name)
	}
	parent, err := partitionedParent(ctx, db, p)
	if err != nil {
		return err
	}
	if len(t.Columns) > 0 {
		if err := SameColumnNames(parent, t.Columns); err != nil {
			return err
		}
	}
	stmt := "CREATE TABLE " + p.Qualified() + " (LIKE " + p.Parent() + " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)" + by
	if len(t.Columns) > 0 {
		if stmt, err = createTableSQL(t); err != nil {
			return err
		}
	}
	return fencedCreate(ctx, db, p, parent, false, func() error {
		return inTx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
			return attachFenced(ctx, tx, p)
		})
	})
}

// AttachDetached attaches the table p, partitioned or not (detached out of band, or
// never attached by pgshard), to p's parent with p's bound. The parent's DEFAULT is fenced
// and checked for rows of the bound before any lock is held (fencedCreate), so the ATTACH
// reads no row of it; the table's own rows are read under its own lock only, while it is
// not yet part of the parent. A table already a partition of that parent is left as it is.
func AttachDetached(ctx context.Context, db *sql.DB, p Partition) error {
	cur, err := ReadPartition(ctx, db, p.Schema, p.Name)
	if err != nil {
		return err
	}
	if cur.ParentName != "" {
		if cur.ParentSchema == p.ParentSchema && cur.ParentName == p.ParentName {
			return nil
		}
		return fmt.Errorf("%s is a partition of %s.%s, not of %s: detach it first (ALTER TABLE %s DETACH PARTITION %s), or set parent to %s.%s",
			p.Qualified(), cur.ParentSchema, cur.ParentName, p.Parent(), cur.Parent(), p.Qualified(), cur.ParentSchema, cur.ParentName)
	}
	parent, err := partitionedParent(ctx, db, p)
	if err != nil {
		return err
	}
	logStep(ctx, "attach to "+p.ParentSchema+"."+p.ParentName, p.Schema+"."+p.Name)
	// The table's rows are checked against the bound while it is still detached (a CHECK
	// on it and, through it, on its leaves), so that the ATTACH, with DEFAULT locked, proves
	// them inside the bound instead of reading them.
	check := ""
	if parent.PartitionBy != nil {
		check = p.Bound.PartitionCheckSQL(KeySQL(parent.PartitionBy.Key))
	}
	if check != "" {
		if _, err := db.ExecContext(ctx, "ALTER TABLE "+p.Qualified()+" ADD CONSTRAINT "+Ident(attachCheckName)+" CHECK ("+check+")"); err != nil {
			if se := ServerErrorOf(err); se != nil && se.Code == "23514" {
				return fmt.Errorf("%s holds rows outside the bound %s in %s: move them out, or give it a bound that takes them; nothing was changed", p.Qualified(), p.Bound, p.Parent())
			}
			return err
		}
	}
	// The parent's sequences are set past the table's ids before any lock of the parent's
	// (reading them may scan the table): a sequence set early only skips values.
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		err := advanceSequences(ctx, tx, p)
		return err
	})
	if err == nil {
		err = fencedCreate(ctx, db, p, parent, false, func() error {
			return inTx(ctx, db, func(tx *sql.Tx) error {
				if err := attachFenced(ctx, tx, p); err != nil {
					return err
				}
				if check == "" {
					return nil
				}
				_, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Qualified()+" DROP CONSTRAINT "+Ident(attachCheckName))
				return err
			})
		})
	}
	if err != nil && check != "" {
		_, _ = db.ExecContext(ctx, "ALTER TABLE "+p.Qualified()+" DROP CONSTRAINT IF EXISTS "+Ident(attachCheckName))
	}
	return err
}

// partitionedParent reads p's parent, which must be a partitioned table.
func partitionedParent(ctx context.Context, q Querier, p Partition) (*Table, error) {
	parent, err := ReadTable(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil {
		return nil, err
	}
	if parent.Kind != RelPartitioned {
		return nil, fmt.Errorf("the parent %s.%s is %s, not a partitioned table", p.ParentSchema, p.ParentName, parent.Kind)
	}
	return parent, nil
}

// attachFenced attaches p, in tx, once the parent's holdings have made way for its bound
// and DEFAULT's fence is validated and DEFAULT locked briefly (validateCreateFence), then
// drops the fence, which the commit makes PostgreSQL's own partition constraint.
func attachFenced(ctx context.Context, tx *sql.Tx, p Partition) error {
	if err := yieldHoldings(ctx, tx, p, p.Bound); err != nil {
		return err
	}
	def, err := validateCreateFence(ctx, tx, p, false)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+p.Qualified()+" "+p.Bound.SQL()); err != nil {
		return err
	}
	if def == "" {
		return nil
	}
	_, err = tx.ExecContext(ctx, "ALTER TABLE "+def+" DROP CONSTRAINT "+Ident(fenceName(p)))
	return err
}

// DetachPartition detaches schema.name from its parent, if it has one, keeping its rows.
// DETACH reads no row; the parent's ACCESS EXCLUSIVE lock is taken briefly at a time.
func DetachPartition(ctx context.Context, db *sql.DB, schema, name string) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		cur, err := ReadPartition(ctx, tx, schema, name)
		if err != nil || cur.ParentName == "" {
			return err
		}
		logStep(ctx, "detach from "+cur.ParentSchema+"."+cur.ParentName, schema+"."+name)
		// DETACH locks DEFAULT too.
		def, err := defaultPartition(ctx, tx, cur.ParentSchema, cur.ParentName)
		if err != nil {
			return err
		}
		if err := lockForSwitch(ctx, tx, cur.Parent(), def, localTable(*cur)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "ALTER TABLE "+cur.Parent()+" DETACH PARTITION "+cur.Qualified())
		return err
	})
}
