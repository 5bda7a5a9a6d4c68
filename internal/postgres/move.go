package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Moving keys between a partition and the parent's DEFAULT partition: copy, verify, switch,
// clean up. A move between two shards is two such moves that Terraform orders (the giver
// narrows its bound into DEFAULT, the receiver widens its bound over DEFAULT).
//
// Rows are compared by count and an order-independent checksum: the sum of a 64-bit hash of
// each row's text (columns in the parent's order, as the base prints them), on the source
// and on the target. Through the parent, no row is visible twice or missing: the switch runs
// in one base transaction that detaches the partition (ACCESS EXCLUSIVE on the parent, so
// every reader and writer waits), moves the rows, attaches it with the new bound and commits.
//
// A shard and the base cannot commit together. postgres_fdw commits the shard's part just
// before the base commits; to lose no row if the base commit then fails, rows leaving a
// shard are first copied into a journal table on the base, committed, and only then deleted
// from the shard in the switching transaction; an apply that finds a journal finishes the
// move from it. Rows entering a shard are never deleted from DEFAULT before the base
// commits; an apply that finds copies of DEFAULT rows on the shard (a base commit that
// failed) counts them as moved instead of copying them again.

// MoveResult says what a move did.
type MoveResult struct {
	Rows     int64 // rows moved
	Checksum int64 // their order-independent checksum
	Resumed  bool  // a move left half done was finished
}

// keyChecks renders the CHECK expressions of two bounds over the parent's key.
func keyChecks(ctx context.Context, q Querier, p Partition, from, to Bound) (parent *Table, oldCheck, newCheck string, err error) {
	parent, err = ReadTable(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil {
		return nil, "", "", err
	}
	if parent.PartitionBy == nil {
		return nil, "", "", fmt.Errorf("%s is not a partitioned table", p.Parent())
	}
	key := KeySQL(parent.PartitionBy.Key)
	oldCheck, newCheck = from.CheckSQL(key), to.CheckSQL(key)
	if oldCheck == "" || newCheck == "" && !to.isNone() {
		return nil, "", "", fmt.Errorf("rows can only be moved for LIST and RANGE bounds")
	}
	if to.isNone() {
		newCheck = "false"
	}
	return parent, oldCheck, newCheck, nil
}

// NoBound is the bound of a partition that goes away: it admits no row, so a move to
// DEFAULT takes all of them.
var NoBound = Bound{In: []string{}, none: true}

func (b Bound) isNone() bool { return b.none }

// checksumOf is the count and checksum of the rows a query returns (a subquery named r).
func checksumOf(ctx context.Context, q Querier, query string) (int64, int64, error) {
	var n, sum sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(hashtextextended(r::text, 0)) % 9223372036854775807, 0)::bigint FROM ("+query+") r").Scan(&n, &sum)
	return n.Int64, sum.Int64, err
}

// journalName is the base table that holds a partition's rows while they leave its shard.
func journalName(p Partition) string { return TruncateIdentifier("pgshard_move_"+p.Name, "") }

// MoveToDefault narrows partition p (attached now with bound from) to p.Bound (NoBound when
// the partition goes away), moving its rows that the new bound no longer admits into the
// parent's DEFAULT partition, and attaches it with the new bound. For a shard the provider
// manages, its CHECK takes the new bound first, unvalidated (writes of the leaving keys on
// the shard are refused from then on, with the constraint's name), and is validated at the
// end. A move left half done by an earlier apply is finished.
//
// The table stays online: the rows are copied into DEFAULT and deleted from the partition
// by a base transaction whose changes nobody sees until it commits, and only its last
// statements lock the parent (see switchBound), for a time that does not depend on the rows.
func MoveToDefault(ctx context.Context, db *sql.DB, p Partition, from Bound, managed bool) (res MoveResult, err error) {
	defer logMoved(ctx, p, time.Now(), &res, &err)
	parent, oldCheck, newCheck, err := keyChecks(ctx, db, p, from, p.Bound)
	if err != nil {
		return MoveResult{}, err
	}
	def, err := defaultPartition(ctx, db, p.ParentSchema, p.ParentName)
	if err != nil {
		return MoveResult{}, err
	}
	if def == "" {
		return MoveResult{}, fmt.Errorf("%s has no DEFAULT partition to move rows into", p.Parent())
	}
	cols := columnList(writtenColumns(parent.Columns))
	leaving := "SELECT " + cols + " FROM ONLY " + p.Qualified() + " WHERE " + outside(newCheck)
	remote := remoteOf(p)
	if done, err := switched(ctx, db, p); err != nil || done {
		// An earlier attempt committed the switch and stopped before validating the CHECK.
		res.Resumed = true
		if err == nil && p.Foreign && managed && !p.Bound.isNone() {
			logProgress(ctx, "validate the shard's CHECK for the new bound", p.Schema+"."+p.Name)
			err = setRemoteCheckOnline(ctx, db, remote, newCheck)
		}
		return res, err
	}
	fenced, defaultFenced, switchedNow := false, false, false
	defer func() {
		if err != nil && !switchedNow {
			err = cleanUpStoppedMove(ctx, db, p, def, remote, oldCheck, fenced, defaultFenced, err)
		}
	}()
	// The rows of a LIST shard's leaving keys go into a holding partition for those keys
	// (see holding.go): the switch attaches the journal instead of copying it into DEFAULT.
	var leave Bound
	hold := false
	if p.Foreign {
		if leave, hold, err = leavingKeys(ctx, db, p, from); err != nil {
			return MoveResult{}, err
		}
	}
	if p.Foreign && managed {
		logProgress(ctx, "refuse new rows of the leaving keys on the shard (CHECK, not validated yet)", p.Schema+"."+p.Name)
		if err := execOnShard(ctx, db, p.Server, setRemoteCheckNotValidSQL(remote, newCheck)); err != nil {
			return MoveResult{}, err
		}
		fenced = true
	}
	journal := QualifiedIdent(p.ParentSchema, journalName(p))
	if p.Foreign {
		// Copy the leaving rows into the journal (or find it from an earlier attempt).
		var exists bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, journal).Scan(&exists); err != nil {
			return res, err
		}
		// A count, which postgres_fdw sends to the shard whole.
		var left int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+p.Qualified()+" WHERE "+outside(newCheck)).Scan(&left); err != nil {
			return res, err
		}
		// The shard's CHECK already refuses new rows of the leaving keys, so left cannot grow.
		if exists && left == 0 {
			res.Resumed = true // the shard's rows went; the base did not commit: finish from the journal
			if hold {
				// A journal an older provider made holds the rows only: they go into DEFAULT.
				if hold, err = hasConstraint(ctx, db, journal, holdCheck); err != nil {
					return res, err
				}
			}
			if hold {
				// Its CHECK in today's form (an older one let NULL keys through, so the switch's
				// ATTACH would scan the journal under the parent's lock): replaced while the
				// journal is nobody else's table, a scan that locks the journal only.
				check := leave.PartitionCheckSQL(KeySQL(parent.PartitionBy.Key))
				if _, err := db.ExecContext(ctx, "ALTER TABLE "+journal+" DROP CONSTRAINT "+Ident(holdCheck)+", ADD CONSTRAINT "+Ident(holdCheck)+" CHECK ("+check+")"); err != nil {
					return res, err
				}
			}
		} else {
			logProgress(ctx, fmt.Sprintf("copy %d leaving rows into the journal %s", left, journal), p.Schema+"."+p.Name)
			err = inTx(ctx, db, func(tx *sql.Tx) error {
				if exists {
					orphans, err := journalOrphans(ctx, tx, p, def)
					if err != nil {
						return err
					}
					if orphans > 0 {
						return fmt.Errorf("the journal %s of a move left half done holds %d rows that are neither on the shard nor in DEFAULT: "+
							"apply the bound that move was making, which finishes it from the journal, or put the rows back yourself; nothing was moved", journal, orphans)
					}
				}
				if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+journal); err != nil {
					return err
				}
				// One statement reads the shard once, in one snapshot; the switch below checks
				// that what it deletes from the shard is exactly what the journal holds.
				if !hold {
					_, err := tx.ExecContext(ctx, "CREATE TABLE "+journal+" AS "+leaving)
					return err
				}
				// Shaped like the parent, so that the switch can attach it, with a validated
				// CHECK of the leaving keys, so that the ATTACH need not scan it.
				if _, err := tx.ExecContext(ctx, "CREATE TABLE "+journal+" (LIKE "+p.Parent()+" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING INDEXES)"); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO "+journal+" ("+cols+") "+leaving); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "ALTER TABLE "+journal+" ADD CONSTRAINT "+Ident(holdCheck)+" CHECK ("+leave.PartitionCheckSQL(KeySQL(parent.PartitionBy.Key))+")")
				return err
			})
			if err != nil {
				return res, err
			}
		}
	}
	// DEFAULT holds no row of the new bound (those rows are p's) nor of the leaving keys
	// when they go to a holding partition: the constraint says so, so that the switch's
	// ATTACHes need not scan DEFAULT under their lock. (A local partition moves under the
	// lock anyway.)
	if p.Foreign && (!p.Bound.isNone() || hold) {
		var checks []string
		if !p.Bound.isNone() {
			checks = append(checks, newCheck)
		}
		if hold {
			checks = append(checks, leave.CheckSQL(KeySQL(parent.PartitionBy.Key)))
		}
		if err := addDefaultFence(ctx, db, def, p, checks...); err != nil {
			return res, err
		}
		defaultFenced = true
	}
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockMoveIn(ctx, tx, p); err != nil {
			return err
		}
		source := leaving
		if p.Foreign {
			source = "SELECT " + cols + " FROM " + journal
		}
		var err error
		if p.Foreign && managed {
			// Its delete is verified by count alone (see deleteLeaving).
			err = tx.QueryRowContext(ctx, "SELECT count(*) FROM "+journal).Scan(&res.Rows)
		} else {
			res.Rows, res.Checksum, err = checksumOf(ctx, tx, source)
		}
		if err != nil {
			return err
		}
		if !p.Foreign {
			// A local partition: its rows go to DEFAULT under the switch's lock, as before.
			return switchIntoDefault(ctx, tx, p, def, cols, newCheck, oldCheck, defaultFenced, &res)
		}
		// Delete at the source what the journal holds, checking that it is what was copied.
		// postgres_fdw's remote transaction keeps the delete from every other session until
		// the commit, and the base locks nothing that they need yet.
		logProgress(ctx, fmt.Sprintf("delete the %d journaled rows from %s (the table stays online)", res.Rows, p.Qualified()), p.Schema+"."+p.Name)
		n, sum, checked, err := deleteLeaving(ctx, tx, p, cols, newCheck, managed)
		if err != nil {
			return err
		}
		if res.Resumed && n != 0 || !res.Resumed && (n != res.Rows || checked && sum != res.Checksum) {
			return fmt.Errorf("the rows leaving %s changed while they were moved (%d rows deleted, %d copied, checksums %d and %d): nothing was changed; apply again",
				p.Qualified(), n, res.Rows, sum, res.Checksum)
		}
		if defaultFenced {
			logStep(ctx, "check that DEFAULT holds no row of the new bound (without locking it)", def)
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" VALIDATE CONSTRAINT "+Ident(fenceName(p))); err != nil {
				return err
			}
		}
		if hold {
			return switchIntoHolding(ctx, tx, p, def, journal, leave, defaultFenced)
		}
		if err := switchIntoDefault(ctx, tx, p, def, cols, newCheck, oldCheck, defaultFenced, &res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DROP TABLE "+journal)
		return err
	})
	if err != nil {
		return res, err
	}
	switchedNow = true
	if p.Foreign && managed && !p.Bound.isNone() {
		// The CHECK has had the new bound since before the copy: only its validation is left.
		logProgress(ctx, "validate the shard's CHECK for the new bound", p.Schema+"."+p.Name)
		err = execOnShard(ctx, db, p.Server, validateRemoteCheckSQL(remote))
	}
	return res, err
}

// deleteLeaving deletes from p, inside tx, its rows that newCheck does not admit, and
// returns how many; and their checksum (checked) when the rows could have changed since
// they were copied. A shard the provider manages refuses new and changed rows of the
// leaving keys (its CHECK says so since before the copy), so its leaving rows can only
// have become fewer: their count alone tells whether they are the rows copied, and the
// DELETE runs on the shard without sending the rows back.
func deleteLeaving(ctx context.Context, tx *sql.Tx, p Partition, cols, newCheck string, managed bool) (n, sum int64, checked bool, err error) {
	if p.Foreign && managed {
		r, err := tx.ExecContext(ctx, "DELETE FROM ONLY "+p.Qualified()+" WHERE "+outside(newCheck))
		if err != nil {
			return 0, 0, false, err
		}
		n, err = r.RowsAffected()
		return n, 0, false, err
	}
	err = tx.QueryRowContext(ctx, "WITH gone AS (DELETE FROM ONLY "+p.Qualified()+" WHERE "+outside(newCheck)+" RETURNING "+cols+") "+
		"SELECT count(*), coalesce(sum(hashtextextended(gone::text, 0)) % 9223372036854775807, 0)::bigint FROM gone").Scan(&n, &sum)
	return n, sum, true, err
}

// leavingKeys is the LIST bound of the keys a shard narrowed from bound from to p.Bound
// gives to DEFAULT, both bounds in the server's form; hold is false when the rows cannot go
// to a holding partition (not LIST bounds) and move into DEFAULT under the switch's lock.
func leavingKeys(ctx context.Context, db *sql.DB, p Partition, from Bound) (leave Bound, hold bool, err error) {
	if from.Kind() != "list" {
		return Bound{}, false, nil
	}
	to := p.Bound
	if from, err = CanonicalBound(ctx, db, p.ParentSchema, p.ParentName, from); err != nil {
		return Bound{}, false, err
	}
	if !to.isNone() {
		if to, err = CanonicalBound(ctx, db, p.ParentSchema, p.ParentName, to); err != nil {
			return Bound{}, false, err
		}
	}
	leave, hold = leavingBound(from, to)
	return leave, hold, nil
}

// switchIntoHolding ends a move of a shard's LIST keys into DEFAULT inside tx: it locks
// the parent and DEFAULT (see switchBound), detaches p, attaches it with its new bound (not
// for NoBound), and attaches the journal, which holds the leaving rows, as the holding
// partition of the leaving keys (leave). Validated constraints spare both ATTACHes their
// scans (the journal's CHECK, DEFAULT's fence), so nothing here reads rows.
func switchIntoHolding(ctx context.Context, tx *sql.Tx, p Partition, def, journal string, leave Bound, fenced bool) error {
	logProgress(ctx, "switch to the new bound and commit, the journal attached as the holding partition "+holdingName(p.ParentName, leave)+
		" of the leaving keys (the parent is locked from here to the commit)", p.Schema+"."+p.Name)
	if err := lockForSwitch(ctx, tx, p.Parent(), def, localTable(p)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" DETACH PARTITION "+p.Qualified()); err != nil {
		return err
	}
	if !p.Bound.isNone() {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+p.Qualified()+" "+p.Bound.SQL()); err != nil {
			return err
		}
	}
	held := holdingName(p.ParentName, leave)
	stmts := []string{
		"ALTER TABLE " + p.Parent() + " ATTACH PARTITION " + journal + " " + leave.SQL(),
		"ALTER TABLE " + journal + " DROP CONSTRAINT " + Ident(holdCheck),
		"ALTER TABLE " + journal + " RENAME TO " + Ident(held),
	}
	// The journal's indexes (the parent's, made by LIKE) are named after it: after the
	// holding partition from now on.
	rows, err := tx.QueryContext(ctx, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY c.relname`, journal)
	if err != nil {
		return err
	}
	var n int
	for rows.Next() {
		var idx string
		if err := rows.Scan(&idx); err != nil {
			rows.Close()
			return err
		}
		n++
		stmts = append(stmts, "ALTER INDEX "+QualifiedIdent(p.ParentSchema, idx)+" RENAME TO "+Ident(TruncateIdentifier(held, fmt.Sprintf("_%d_idx", n))))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if fenced {
		stmts = append(stmts, "ALTER TABLE "+def+" DROP CONSTRAINT "+Ident(fenceName(p)))
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// switchIntoDefault ends a move into DEFAULT inside tx: it locks the parent and DEFAULT
// (see switchBound), detaches p, inserts the leaving rows into DEFAULT (from the journal for
// a shard, from p itself for a local partition, whose leaving rows it then deletes),
// checks their count, and attaches p with its new bound. PostgreSQL refuses a row in
// DEFAULT while another partition's bound admits it, so this insert is the one step of a
// move that runs under the parent's lock: a local copy, with no network in between.
func switchIntoDefault(ctx context.Context, tx *sql.Tx, p Partition, def, cols, newCheck, oldCheck string, fenced bool, res *MoveResult) error {
	logProgress(ctx, "switch to the new bound and commit (the parent is locked from here to the commit)", p.Schema+"."+p.Name)
	if err := lockForSwitch(ctx, tx, p.Parent(), def, localTable(p)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" DETACH PARTITION "+p.Qualified()); err != nil {
		return err
	}
	from, cond := QualifiedIdent(p.ParentSchema, journalName(p)), "true"
	if !p.Foreign {
		from, cond = p.Qualified(), outside(newCheck)
	}
	logProgress(ctx, fmt.Sprintf("move %d rows into DEFAULT %s", res.Rows, def), p.Schema+"."+p.Name)
	if _, err := copyInBatches(ctx, tx, p, def, cols, from, cond, res.Rows); err != nil {
		return &MoveRowsError{Default: def, To: p.Qualified(), Err: err, IntoDefault: true}
	}
	arrived := "SELECT " + cols + " FROM ONLY " + def + " WHERE (" + oldCheck + ") AND " + outside(newCheck)
	if !p.Foreign {
		if err := verifySame(ctx, tx, "the DEFAULT partition", arrived, "the rows leaving", "SELECT "+cols+" FROM ONLY "+from+" WHERE "+cond); err != nil {
			return err
		}
		n, sum, _, err := deleteLeaving(ctx, tx, p, cols, newCheck, false)
		if err != nil {
			return err
		}
		if n != res.Rows || sum != res.Checksum {
			return fmt.Errorf("the rows leaving %s changed while they were moved (%d rows deleted, %d copied): nothing was changed; apply again", p.Qualified(), n, res.Rows)
		}
	} else {
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+def+" WHERE ("+oldCheck+") AND "+outside(newCheck)).Scan(&n); err != nil {
			return err
		}
		if n != res.Rows {
			return fmt.Errorf("verification failed: the DEFAULT partition holds %d rows of the leaving keys, the journal %d: nothing was changed", n, res.Rows)
		}
	}
	return attachUnfenced(ctx, tx, p, def, fenced)
}

// journalOrphans counts, under the journal's lock in tx, its rows that are neither on the
// partition p nor in DEFAULT: a journal is dropped only when it holds no row's only copy.
func journalOrphans(ctx context.Context, tx *sql.Tx, p Partition, def string) (int64, error) {
	var orphans int64
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+QualifiedIdent(p.ParentSchema, journalName(p))+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return 0, err
	}
	query, _, err := orphansOf(ctx, tx, p, def)
	if err != nil {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+query+") o").Scan(&orphans)
	return orphans, err
}

// orphansOf is the query of the rows of p's journal that are neither on p nor in DEFAULT,
// compared as the text of the journal's columns (a partition's generated columns are not
// in it), and those columns, quoted.
func orphansOf(ctx context.Context, q Querier, p Partition, def string) (query, cols string, err error) {
	journal, err := ReadTable(ctx, q, p.ParentSchema, journalName(p))
	if err != nil {
		return "", "", err
	}
	written := writtenColumns(journal.Columns)
	names := make([]string, len(written))
	for i, c := range written {
		names[i] = c.Name
	}
	cols = columnList(written)
	row, jrow := "ROW("+qualifiedCols("t", names)+")::text", "ROW("+qualifiedCols("j", names)+")::text"
	return "SELECT " + qualifiedCols("j", names) + " FROM " + QualifiedIdent(p.ParentSchema, journalName(p)) + " j WHERE NOT EXISTS (SELECT 1 FROM ONLY " + p.Qualified() + " t WHERE " + row + " = " + jrow + ") " +
		"AND NOT EXISTS (SELECT 1 FROM ONLY " + def + " t WHERE " + row + " = " + jrow + ")", cols, nil
}

// MoveLeftovers is what a move of a partition that stopped before its switch left on the
// base.
type MoveLeftovers struct {
	Journal       string // the journal (qualified), "" when there is none
	JournalRows   int64  // the rows it holds
	OnlyInJournal int64  // of those, rows neither on the partition nor in DEFAULT
	Fence         string // DEFAULT's constraint left by the move, "" when none
	// Copies counts the partition's rows outside its bound that DEFAULT holds too: copies
	// made by a move out of DEFAULT whose shard committed and whose base did not. Counted
	// only with a Fence.
	Copies  int64
	Default string // the DEFAULT partition (qualified)

	outsideBound string    // the condition of the partition's rows outside its bound
	cols         []string  // the parent's written columns
	holdings     []holding // the parent's holding partitions, whose rows DEFAULT's are too
}

// Empty reports whether nothing was left.
func (l MoveLeftovers) Empty() bool { return l.Journal == "" && l.Fence == "" }

// copiesOf is the condition of the partition's rows (t) outside its bound that DEFAULT
// holds too, compared by the written columns as text.
func (l MoveLeftovers) copiesOf() string {
	return l.outsideBound + " AND EXISTS (SELECT 1 FROM " + defaultSide(l.Default, l.holdings, identList(l.cols)) + " WHERE ROW(" + qualifiedCols("d", l.cols) + ")::text = ROW(" + qualifiedCols("t", l.cols) + ")::text)"
}

// qualifiedCols lists the columns, each quoted and qualified with alias.
func qualifiedCols(alias string, cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = alias + "." + Ident(c)
	}
	return strings.Join(parts, ", ")
}

// findMoveLeftovers reads what a move of partition p (attached) left behind: its journal,
// with how many of its rows are nowhere else, and DEFAULT's constraint.
func findMoveLeftovers(ctx context.Context, q Querier, p Partition) (MoveLeftovers, error) {
	var l MoveLeftovers
	def, err := defaultPartition(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil || def == "" {
		return l, err
	}
	l.Default = def
	journal := QualifiedIdent(p.ParentSchema, journalName(p))
	var hasJournal, hasFence bool
	err = q.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $2::regclass AND conname = $3)`,
		journal, def, fenceName(p)).Scan(&hasJournal, &hasFence)
	if err != nil {
		return l, err
	}
	if !hasFence {
		// A move into p that stopped before its switch may have left its constraint on the
		// holding partitions of its keys only (a local partition's).
		if hasFence, err = holdingFenced(ctx, q, p); err != nil {
			return l, err
		}
	}
	if l.holdings, err = holdingsOf(ctx, q, p.ParentSchema, p.ParentName); err != nil {
		return l, err
	}
	if hasFence {
		l.Fence = fenceName(p)
		parent, err := ReadTable(ctx, q, p.ParentSchema, p.ParentName)
		if err != nil {
			return l, err
		}
		if parent.PartitionBy != nil {
			if check := p.Bound.CheckSQL(KeySQL(parent.PartitionBy.Key)); check != "" {
				l.outsideBound = outside(check)
				for _, c := range writtenColumns(parent.Columns) {
					l.cols = append(l.cols, c.Name)
				}
				var outsideRows int64 // a count the shard makes: usually none, and no row is fetched
				if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+p.Qualified()+" WHERE "+l.outsideBound).Scan(&outsideRows); err != nil {
					return l, err
				}
				if outsideRows > 0 {
					if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+p.Qualified()+" t WHERE "+l.copiesOf()).Scan(&l.Copies); err != nil {
						return l, err
					}
				}
			}
		}
	}
	if hasJournal {
		l.Journal = journal
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+journal).Scan(&l.JournalRows); err != nil {
			return l, err
		}
		query, _, err := orphansOf(ctx, q, p, def)
		if err != nil {
			return l, err
		}
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ("+query+") o").Scan(&l.OnlyInJournal); err != nil {
			return l, err
		}
	}
	return l, nil
}

// DropStrayFences drops the move constraints (fenceName) on the DEFAULT partition of
// parent schema.name that belong to no attached partition: a create with
// move_rows_from_default killed before its commit leaves one, and it would refuse rows of
// that bound in DEFAULT for good. It returns their names. Nothing is dropped while a move
// of the parent's rows runs (see lockMoveIn); the fences of attached partitions are their
// own refresh's (UndoMove).
func DropStrayFences(ctx context.Context, db *sql.DB, schema, name string) ([]string, error) {
	def, err := defaultPartition(ctx, db, schema, name)
	if err != nil || def == "" {
		return nil, err
	}
	hs, err := holdingsOf(ctx, db, schema, name)
	if err != nil {
		return nil, err
	}
	tables := []string{def}
	for _, h := range hs {
		tables = append(tables, h.Table)
	}
	type fence struct{ table, name string }
	var fences []fence
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' AND conname LIKE 'pgshard\_moving\_%'`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, err
			}
			fences = append(fences, fence{table, n})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if len(fences) == 0 {
		return nil, nil
	}
	parts, err := ListPartitions(ctx, db, schema, name)
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	for _, pi := range parts {
		owned[fenceName(Partition{Schema: pi.Schema, Name: pi.Name})] = true
	}
	var stray []string
	var strayOn []fence
	for _, f := range fences {
		if !owned[f.name] {
			stray = append(stray, f.name)
			strayOn = append(strayOn, f)
		}
	}
	if len(stray) == 0 {
		return nil, nil
	}
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		var free bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, parentMovesKey(schema, name)).Scan(&free); err != nil {
			return err
		}
		if !free {
			return ErrMoveRunning
		}
		for _, f := range strayOn {
			logStep(ctx, "drop the constraint "+f.name+" that a create stopped before its commit left", f.table)
			if err := lockBriefly(ctx, tx, "ALTER TABLE "+f.table+" DROP CONSTRAINT IF EXISTS "+Ident(f.name)); err != nil {
				return err
			}
			if f.table != def {
				// A holding taken whole has a trigger of that name too (see addHoldingFences).
				if _, err := tx.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+Ident(f.name)+" ON "+f.table); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stray, nil
}

// ErrMoveRunning says that another session is moving rows of this partition now.
var ErrMoveRunning = errors.New("another session is moving rows of this partition")

// UndoMove undoes what a move of partition schema.name (attached, with the bound it is to
// keep) left when it stopped before its switch, and says what it found: rows that are only
// in the journal (the shard's delete committed and the base's did not) go back onto the
// partition, and the journal and DEFAULT's constraint go. For a shard the provider
// manages, its bound CHECK is first put back to the partition's bound (online: added NOT
// VALID, then validated), so that it takes them. What a moving transaction is about to
// commit is left alone (ErrMoveRunning).
func UndoMove(ctx context.Context, db *sql.DB, schema, name string, managed bool) (MoveLeftovers, error) {
	p, err := ReadPartition(ctx, db, schema, name)
	if err != nil || p.ParentName == "" || p.Bound.Default {
		return MoveLeftovers{}, err
	}
	found, err := findMoveLeftovers(ctx, db, *p)
	if err != nil || found.Empty() {
		return found, err
	}
	logStep(ctx, fmt.Sprintf("undo a move left half done (journal rows: %d, only there: %d)", found.JournalRows, found.OnlyInJournal), p.Schema+"."+p.Name)
	if found.Copies > 0 {
		// Before the shard's CHECK is put back: it would refuse them.
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			if err := tryLockMoveIn(ctx, tx, *p); err != nil {
				return err
			}
			logProgress(ctx, fmt.Sprintf("delete the %d copies of DEFAULT rows from the partition", found.Copies), p.Schema+"."+p.Name)
			_, err := tx.ExecContext(ctx, "DELETE FROM ONLY "+p.Qualified()+" t WHERE "+found.copiesOf())
			return err
		})
		if err != nil {
			return found, err
		}
	}
	// DEFAULT's constraint next: once no move runs it only refuses rows, and the steps
	// below can fail (the CHECK, while a shard holds rows it refuses).
	if found.Fence != "" {
		if err := dropDefaultFence(ctx, db, found.Default, *p, nil); err != nil {
			return found, err
		}
	}
	if p.Foreign && managed {
		// The shard's CHECK may still have the move's bound (the move narrows or widens it
		// first); it must take the rows put back.
		parent, err := ReadTable(ctx, db, p.ParentSchema, p.ParentName)
		if err != nil {
			return found, err
		}
		if parent.PartitionBy != nil {
			if check := p.Bound.CheckSQL(KeySQL(parent.PartitionBy.Key)); check != "" {
				if err := setRemoteCheckOnline(ctx, db, remoteOf(*p), check); err != nil {
					return found, err
				}
			}
		}
	}
	if found.Journal != "" {
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			if err := tryLockMoveIn(ctx, tx, *p); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "LOCK TABLE "+found.Journal+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
			if found.OnlyInJournal > 0 {
				query, cols, err := orphansOf(ctx, tx, *p, found.Default)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO "+p.Qualified()+" ("+cols+") "+query); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, "DROP TABLE "+found.Journal)
			return err
		})
		if err != nil {
			return found, err
		}
	}
	return found, nil
}

// parentMovesKey names the advisory lock that moving transactions of one parent take turns on.
func parentMovesKey(schema, name string) string { return "pgshard moves of " + schema + "." + name }

// moveLockKey names the advisory lock of moves of p.
func moveLockKey(p Partition) string { return "pgshard move " + p.Schema + "." + p.Name }

// tryLockMoveIn takes the lock of lockMoveIn in tx if no moving transaction holds it, and
// says ErrMoveRunning otherwise: what a move is about to commit must not be taken for a
// leftover.
func tryLockMoveIn(ctx context.Context, tx *sql.Tx, p Partition) error {
	var free bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, moveLockKey(p)).Scan(&free); err != nil {
		return err
	}
	if !free {
		return ErrMoveRunning
	}
	return nil
}

// lockMoveIn takes, in tx, the advisory locks that a transaction moving rows of p holds
// until it ends. One is the parent's: the moving transactions of one parent run one after
// the other (each validates DEFAULT's constraint and then locks DEFAULT, which would make
// two at once deadlock), waiting without a lock that blocks anyone. The other is p's: the
// refresh's undo (UndoMove) leaves alone what such a transaction is about to commit.
func lockMoveIn(ctx context.Context, tx *sql.Tx, p Partition) error {
	key := parentMovesKey(p.ParentSchema, p.ParentName)
	for waited := false; ; waited = true {
		var got bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, key).Scan(&got); err != nil {
			return err
		}
		if got {
			break
		}
		if !waited {
			logStep(ctx, "wait for another move of rows of the same parent to end", p.Schema+"."+p.Name)
		}
		select {
		case <-ctx.Done():
			return interrupted(ctx, ctx.Err())
		case <-time.After(lockWaitFirstTry):
		}
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, moveLockKey(p))
	return err
}

// MoveFromDefault widens partition p (attached now with bound from) to p.Bound, moving the
// DEFAULT rows the new bound takes into it, and attaches it with the new bound. For a shard
// the provider manages, its CHECK takes the new bound first. Rows are deleted from DEFAULT
// only in the transaction that verified them on the partition.
//
// The table stays online: a constraint on DEFAULT refuses new rows of the entering keys
// from the start (the error names it), the rows are copied to the partition and deleted
// from DEFAULT by a base transaction whose changes nobody sees until it commits (the
// shard's part is postgres_fdw's remote transaction), and only its last statements lock
// the parent (see switchBound).
func MoveFromDefault(ctx context.Context, db *sql.DB, p Partition, from Bound, managed bool) (res MoveResult, err error) {
	defer logMoved(ctx, p, time.Now(), &res, &err)
	parent, oldCheck, newCheck, err := keyChecks(ctx, db, p, from, p.Bound)
	if err != nil {
		return MoveResult{}, err
	}
	def, err := defaultPartition(ctx, db, p.ParentSchema, p.ParentName)
	if err != nil || def == "" {
		return MoveResult{}, err
	}
	if done, err := switched(ctx, db, p); err != nil || done {
		res.Resumed = true // an earlier attempt committed the switch
		return res, err
	}
	widened, defaultFenced, switchedNow := false, false, false
	defer func() {
		if err != nil && !switchedNow {
			err = cleanUpStoppedMove(ctx, db, p, def, remoteOf(p), oldCheck, widened, defaultFenced, err)
		}
	}()
	if p.Foreign && managed {
		remote := remoteOf(p)
		logProgress(ctx, "widen the shard's CHECK to the new bound", p.Schema+"."+p.Name)
		widened = true // from the first statement: a failure may come after the change
		if err := setRemoteCheckOnline(ctx, db, remote, newCheck); err != nil {
			return MoveResult{}, err
		}
	}
	// Holding partitions of entering keys (see holding.go) give their rows too.
	claims, err := claimsOf(ctx, db, p.ParentSchema, p.ParentName, p.Bound)
	if err != nil {
		return MoveResult{}, err
	}
	key := KeySQL(parent.PartitionBy.Key)
	// From here DEFAULT and the holdings refuse new rows of the entering keys, naming the
	// constraint. (A local partition moves under the lock, which keeps every writer out
	// anyway.)
	if len(claims) > 0 {
		defaultFenced = true // dropDefaultFence takes the holdings' constraints off too
		if err := addHoldingFences(ctx, db, p, claims, key); err != nil {
			return MoveResult{}, err
		}
	}
	if p.Foreign || len(claims) > 0 {
		if err := addDefaultFence(ctx, db, def, p, fenceChecks(newCheck, claims, key)...); err != nil {
			return MoveResult{}, err
		}
		defaultFenced = true
	}
	cols := columnList(writtenColumns(parent.Columns))
	cond := "(" + newCheck + ") AND " + outside(oldCheck)
	// The tables the entering rows come from: DEFAULT, and the holdings of entering keys.
	sources := []string{def}
	for _, c := range claims {
		sources = append(sources, c.Table)
	}
	// A row the partition already holds (copied by an attempt whose base commit failed) is
	// not copied again.
	// Rows compare as their text (NULL-safe, and hashable, so the anti-join reads the
	// partition once instead of once per row).
	missing := func(source string) string {
		return "SELECT " + cols + " FROM ONLY " + source + " d WHERE " + cond +
			" AND NOT EXISTS (SELECT 1 FROM ONLY " + p.Qualified() + " t WHERE t::text = d::text AND " + cond + ")"
	}
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockMoveIn(ctx, tx, p); err != nil {
			return err
		}
		if !p.Foreign {
			// A local partition refuses rows outside its bound while attached: it is
			// detached first, under the parent's lock, as before.
			logStep(ctx, "detach the partition (the parent is locked from here to the commit)", p.Schema+"."+p.Name)
			if err := lockForSwitch(ctx, tx, p.Parent(), def, localTable(p)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" DETACH PARTITION "+p.Qualified()); err != nil {
				return err
			}
		}
		// Counts verify this move: DEFAULT and the holdings refuse new and changed rows of the
		// entering keys, so from here their rows can only become fewer (deleted, or changed
		// to another key), and a set that did not shrink between two counts is the same set.
		counts := make([]int64, len(sources))
		for i, source := range sources {
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+source+" WHERE "+cond).Scan(&counts[i]); err != nil {
				return err
			}
			res.Rows += counts[i]
		}
		logProgress(ctx, fmt.Sprintf("move %d rows out of DEFAULT %s", res.Rows, def), p.Schema+"."+p.Name)
		// Rows of the entering keys already on the partition: copies made by an attempt
		// whose base commit failed (or rows a regional service wrote since the shard's CHECK
		// was widened). Only then does the copy skip rows the partition holds.
		var there int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+p.Qualified()+" WHERE "+cond).Scan(&there); err != nil {
			return err
		}
		// The copies go to the partition while it still has its old bound: postgres_fdw's
		// remote transaction keeps them from every other session until the commit.
		var copied int64
		for i, source := range sources {
			if there == 0 {
				if counts[i] > 0 || i == 0 {
					if _, err := copyInBatches(ctx, tx, p, p.Qualified(), cols, source, cond, counts[i]); err != nil {
						return &MoveRowsError{Default: source, To: p.Qualified(), Err: err}
					}
				}
				continue
			}
			r, err := tx.ExecContext(ctx, "INSERT INTO "+p.Qualified()+" ("+cols+") "+missing(source))
			if err != nil {
				return &MoveRowsError{Default: source, To: p.Qualified(), Err: err}
			}
			n, _ := r.RowsAffected()
			copied += n
		}
		if there > 0 && copied < res.Rows {
			res.Resumed = true
		}
		if there == 0 {
			// The partition's rows of the entering keys, as this transaction's remote
			// snapshot sees them (taken before the copy, so no write of a regional service
			// counts): exactly the rows copied, counted on the shard.
			var landed int64
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+p.Qualified()+" WHERE "+cond).Scan(&landed); err != nil {
				return err
			}
			if landed != res.Rows {
				return fmt.Errorf("%d of the %d rows moved into %s are not there after the copy: nothing was changed", res.Rows-landed, res.Rows, p.Qualified())
			}
		} else {
			for _, source := range sources {
				var absent int64
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+missing(source)+") m").Scan(&absent); err != nil {
					return err
				}
				if absent != 0 {
					return fmt.Errorf("%d of the %d rows moved into %s are not there after the copy: nothing was changed", absent, res.Rows, p.Qualified())
				}
			}
		}
		for i, source := range sources {
			if i > 0 && claims[i-1].whole() {
				continue // its rows cannot change (see addHoldingFences), and it goes with the switch
			}
			logProgress(ctx, fmt.Sprintf("delete the %d verified rows from %s", counts[i], source), p.Schema+"."+p.Name)
			// The delete finds every row counted, unless one was deleted or changed to another
			// key since (and then one of the copies would have no source).
			r, err := tx.ExecContext(ctx, "DELETE FROM ONLY "+source+" d WHERE "+cond)
			if err != nil {
				return err
			}
			if n, err := r.RowsAffected(); err != nil || n != counts[i] {
				return errors.Join(err, fmt.Errorf("rows of the keys moving into %s were deleted or changed in %s while they were moved (%d rows deleted, %d copied): nothing was changed; apply again",
					p.Qualified(), source, n, counts[i]))
			}
		}
		for _, c := range claims {
			if c.whole() {
				continue
			}
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.Table+" VALIDATE CONSTRAINT "+Ident(fenceName(p))); err != nil {
				return err
			}
		}
		if defaultFenced {
			logStep(ctx, "check that DEFAULT holds no row of the new bound (without locking it)", def)
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" VALIDATE CONSTRAINT "+Ident(fenceName(p))); err != nil {
				return err
			}
		}
		if !p.Foreign {
			if err := detachClaims(ctx, tx, p.Parent(), claims); err != nil {
				return err
			}
			if err := attachUnfenced(ctx, tx, p, def, defaultFenced); err != nil {
				return err
			}
			return settleClaims(ctx, tx, p.Parent(), p.ParentName, p, claims)
		}
		return switchBound(ctx, tx, p, def, true, claims)
	})
	switchedNow = err == nil
	return res, err
}

// fenceName is the constraint that a move of p puts on the DEFAULT partition: DEFAULT holds
// no row of p's new bound. While rows enter p it refuses new rows of their keys in DEFAULT.
// Its last 8 characters come from a hash of p's schema and name, so that no two partitions
// of a parent share one (names are cut to fit 63 bytes).
func fenceName(p Partition) string {
	sum := sha256.Sum256([]byte(p.Schema + "." + p.Name))
	return TruncateIdentifier("pgshard_moving_"+p.Name, "_"+hex.EncodeToString(sum[:4]))
}

// addDefaultFence puts the constraint fenceName(p) on DEFAULT, not validated: from its
// commit, DEFAULT refuses new and changed rows of the keys newCheck admits. It waits for
// DEFAULT's lock only briefly at a time (see lockBriefly).
func addDefaultFence(ctx context.Context, db *sql.DB, def string, p Partition, checks ...string) error {
	name := Ident(fenceName(p))
	logStep(ctx, "put the move's constraint "+fenceName(p)+" on DEFAULT (not validated yet)", def)
	nots := make([]string, len(checks))
	for i, c := range checks {
		nots[i] = "NOT (" + c + ")"
	}
	return inTx(ctx, db, func(tx *sql.Tx) error {
		return lockBriefly(ctx, tx, "ALTER TABLE "+def+" DROP CONSTRAINT IF EXISTS "+name+", ADD CONSTRAINT "+name+" CHECK ("+strings.Join(nots, " AND ")+") NOT VALID")
	})
}

// dropDefaultFence takes the constraint fenceName(p) off DEFAULT after a move that stopped
// before its switch. It runs even when ctx was canceled (Ctrl-C); when it cannot, cause
// says so too.
func dropDefaultFence(ctx context.Context, db *sql.DB, def string, p Partition, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	logStep(rctx, "take the move's constraint off DEFAULT (the move stopped before its switch)", def)
	err := inTx(rctx, db, func(tx *sql.Tx) error {
		return lockBriefly(rctx, tx, "ALTER TABLE "+def+" DROP CONSTRAINT IF EXISTS "+Ident(fenceName(p)))
	})
	if err == nil {
		err = dropHoldingFences(rctx, db, p)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("the constraint %s on DEFAULT %s, which refuses rows of the moving keys, could not be dropped (the next refresh drops it): %w",
			fenceName(p), def, err))
	}
	return cause
}

// switchBound ends a move inside tx: it locks the parent and DEFAULT (waiting briefly at a
// time, see lockBriefly), detaches p and attaches it with p.Bound (not for NoBound), and
// drops the DEFAULT constraint fenceName(p) when fenced. From the lock to the commit nothing
// reads or writes rows: DEFAULT's validated constraint spares ATTACH its scan, so the parent
// is held for milliseconds whatever the rows moved.
func switchBound(ctx context.Context, tx *sql.Tx, p Partition, def string, fenced bool, claims []claim) error {
	logProgress(ctx, "switch to the new bound and commit (the parent is locked from here to the commit)", p.Schema+"."+p.Name)
	// The parent first, as every partition DDL does; DETACH and ATTACH lock DEFAULT, the
	// partition and the claimed holdings too.
	tables := []string{def, localTable(p)}
	for _, c := range claims {
		tables = append(tables, c.Table)
	}
	if err := lockForSwitch(ctx, tx, p.Parent(), tables...); err != nil {
		return err
	}
	if err := detachClaims(ctx, tx, p.Parent(), claims); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" DETACH PARTITION "+p.Qualified()); err != nil {
		return err
	}
	if err := attachUnfenced(ctx, tx, p, def, fenced); err != nil {
		return err
	}
	return settleClaims(ctx, tx, p.Parent(), p.ParentName, p, claims)
}

// attachUnfenced attaches p with its bound (not for NoBound) and, when fenced, drops the
// move's constraint from DEFAULT: the last statements of a switch.
func attachUnfenced(ctx context.Context, tx *sql.Tx, p Partition, def string, fenced bool) error {
	if !p.Bound.isNone() {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+p.Parent()+" ATTACH PARTITION "+p.Qualified()+" "+p.Bound.SQL()); err != nil {
			return err
		}
	}
	if fenced {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" DROP CONSTRAINT "+Ident(fenceName(p))); err != nil {
			return err
		}
	}
	return nil
}

// lockForSwitch takes, inside tx, ACCESS EXCLUSIVE on parent and on the local tables a
// switch then detaches or attaches (a partition, DEFAULT, holdings; "" for none), in one
// LOCK statement waited for briefly at a time (lockBriefly). A DETACH or ATTACH that had to
// wait for one of them would hold the parent, queueing every reader behind it, for as long
// as that table's holder took (a query of one partition, an autovacuum). Foreign tables
// cannot be locked with LOCK and are left out: a session reaches one through the parent,
// whose lock this waits for, or alone.
func lockForSwitch(ctx context.Context, tx *sql.Tx, parent string, tables ...string) error {
	list := []string{"ONLY " + parent}
	for _, t := range tables {
		if t != "" {
			list = append(list, "ONLY "+t)
		}
	}
	return lockBriefly(ctx, tx, "LOCK TABLE "+strings.Join(list, ", ")+" IN ACCESS EXCLUSIVE MODE")
}

// localTable is p's qualified name when it is a local table, "" for a foreign one (see
// lockForSwitch).
func localTable(p Partition) string {
	if p.Foreign {
		return ""
	}
	return p.Qualified()
}

// lockWaitShortTry is how long each of lockBriefly's first tries waits for its lock, for
// lockShortTriesFor; after that, each try waits lockWaitFirstTry, then twice as long as the
// one before, up to lockWaitLongestTry.
var (
	lockWaitShortTry   = 50 * time.Millisecond
	lockShortTriesFor  = 3 * time.Second
	lockWaitFirstTry   = 100 * time.Millisecond
	lockWaitLongestTry = 400 * time.Millisecond
)

// lockBriefly runs stmt, which takes a lock that blocks other sessions, inside tx, waiting
// for that lock a short time at a time: a lock request waiting in the queue blocks every
// session that comes after it, so a long wait (behind a long query) would hold the table
// as surely as the lock itself. Between tries the others go on. For lockShortTriesFor the
// tries are short (lockWaitShortTry: nobody queues behind one for longer), which finds the
// gaps between other sessions' queries; then each try waits longer, from lockWaitFirstTry
// doubling up to lockWaitLongestTry, so that queries longer than a try, back to back, do
// not keep it out for ever (a try waiting when one of them ends gets the lock, and the tries,
// a pause of at most lockWaitFirstTry apart, cover most of the time). It tries until the session's lock_timeout has passed (for ever
// when it is 0, until ctx ends), and then fails as a lock wait of that length would.
func lockBriefly(ctx context.Context, tx *sql.Tx, stmt string) error {
	var limitMs int64
	if err := tx.QueryRowContext(ctx, `SELECT setting::bigint FROM pg_settings WHERE name = 'lock_timeout'`).Scan(&limitMs); err != nil {
		return err
	}
	limit := time.Duration(limitMs) * time.Millisecond
	start := time.Now()
	var long time.Duration // the last long try, 0 while the tries are short
	for {
		try := lockWaitShortTry
		if time.Since(start) >= lockShortTriesFor {
			long = min(max(2*long, lockWaitFirstTry), lockWaitLongestTry)
			try = long
		}
		if limit > 0 {
			try = min(try, max(limit-time.Since(start), time.Millisecond))
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT pgshard_lock"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(try.Milliseconds(), 10)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, stmt)
		if err == nil {
			if _, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(limitMs, 10)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT pgshard_lock")
			return err
		}
		// ROLLBACK TO keeps the savepoint: release it too, or each try would nest the rest of
		// the transaction one subtransaction deeper.
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT pgshard_lock"); rerr != nil {
			return errors.Join(err, rerr)
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT pgshard_lock"); rerr != nil {
			return errors.Join(err, rerr)
		}
		if ServerErrorOf(err) == nil || ServerErrorOf(err).Code != "55P03" || limit > 0 && time.Since(start) >= limit {
			return err
		}
		select {
		case <-ctx.Done():
			return interrupted(ctx, err)
		case <-time.After(min(try, lockWaitFirstTry)):
		}
	}
}

// cleanUpStoppedMove puts back what a move of p that failed with cause had changed before
// its switch: the shard's CHECK (when checked), then DEFAULT's constraint (when fenced).
// It first reads whether the switch committed after all (a COMMIT whose answer was lost):
// then nothing is undone. DEFAULT's constraint stays when the shard's CHECK could not be
// put back, so that the refresh still finds what the move left there (see UndoMove).
func cleanUpStoppedMove(ctx context.Context, db *sql.DB, p Partition, def string, remote ShardTable, oldCheck string, checked, fenced bool, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if done, err := switched(rctx, db, p); err == nil && done {
		return cause // the next apply finds the switch made and finishes
	}
	if checked {
		if err := restoreBoundCheck(ctx, db, remote, oldCheck, nil); err != nil {
			return errors.Join(cause, err)
		}
	}
	if fenced {
		return dropDefaultFence(ctx, db, def, p, cause)
	}
	return cause
}

// restoreBoundCheck puts a shard's bound CHECK back to the old bound after a move that
// changed it first and then stopped before its switch committed, so that the shard again
// admits exactly what the base routes to it. It runs even when ctx was canceled (Ctrl-C).
// If it cannot (the shard or the base is down, or the shard already holds rows the old
// bound refuses), cause says so too, and the next plan shows the CHECK in remote_drift.
func restoreBoundCheck(ctx context.Context, db *sql.DB, remote ShardTable, check string, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	logStep(rctx, "put the shard's CHECK back to the old bound (the move stopped before its switch)", remote.Schema+"."+remote.Name)
	if err := setRemoteCheckOnline(rctx, db, remote, check); err != nil {
		return errors.Join(cause, fmt.Errorf("the shard's bound CHECK could not be put back to the old bound (the next plan shows it in remote_drift): %w", err))
	}
	return cause
}

// switched reports whether an earlier attempt already committed the switch of p to
// p.Bound: p is attached with it, or, for a partition that goes away, no longer attached.
func switched(ctx context.Context, q Querier, p Partition) (bool, error) {
	cur, err := ReadPartition(ctx, q, p.Schema, p.Name)
	if err != nil {
		return false, err
	}
	attached := cur.ParentName == p.ParentName && cur.ParentSchema == p.ParentSchema
	if p.Bound.isNone() {
		return !attached, nil
	}
	return attached && cur.Bound.Equal(p.Bound), nil
}

// moveBatchRows is about how many rows each batch of a move copies.
var moveBatchRows int64 = 50000

// copyInBatches copies the rows of the local table source that meet cond into target (and
// returns how many), in
// batches of the source's pages (a TID range scan each, so each batch reads only its own
// pages), and logs rows done of total and the rate after each batch. The last batch has no
// upper bound: it takes rows on pages added since the size was read.
func copyInBatches(ctx context.Context, tx *sql.Tx, p Partition, target, cols, source, cond string, total int64) (int64, error) {
	var pages int64
	if err := tx.QueryRowContext(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint", source).Scan(&pages); err != nil {
		return 0, err
	}
	step := max(1, pages*moveBatchRows/max(total, 1))
	var done int64
	start := time.Now()
	for lo := int64(0); ; lo += step {
		last := lo+step > pages
		query := "INSERT INTO " + target + " (" + cols + ") SELECT " + cols + " FROM ONLY " + source + " WHERE ctid >= $1::tid"
		args := []any{fmt.Sprintf("(%d,0)", lo)}
		if !last {
			query += " AND ctid < $2::tid"
			args = append(args, fmt.Sprintf("(%d,0)", lo+step))
		}
		r, err := tx.ExecContext(ctx, query+" AND "+cond, args...)
		if err != nil {
			return done, err
		}
		n, _ := r.RowsAffected()
		done += n
		took := time.Since(start).Seconds()
		logProgress(ctx, fmt.Sprintf("copied %d/%d rows into %s (%.0f rows/s)", done, total, target, float64(done)/max(took, 0.001)), p.Schema+"."+p.Name)
		if last {
			return done, nil
		}
	}
}

// logMoved reports a finished move: rows, time and rate.
func logMoved(ctx context.Context, p Partition, start time.Time, res *MoveResult, err *error) {
	if *err != nil {
		return
	}
	took := time.Since(start)
	logProgress(ctx, fmt.Sprintf("moved %d rows in %s (%.0f rows/s), verified", res.Rows, took.Round(time.Millisecond),
		float64(res.Rows)/max(took.Seconds(), 0.001)), p.Schema+"."+p.Name)
}

// verifySame compares the count and checksum of two row sets.
func verifySame(ctx context.Context, q Querier, targetName, target, sourceName, source string) error {
	n1, s1, err := checksumOf(ctx, q, target)
	if err != nil {
		return err
	}
	n2, s2, err := checksumOf(ctx, q, source)
	if err != nil {
		return err
	}
	if n1 != n2 || s1 != s2 {
		return fmt.Errorf("verification failed: %s holds %d rows (checksum %d), %s %d (checksum %d): nothing was changed", targetName, n1, s1, sourceName, n2, s2)
	}
	return nil
}

// outside is the condition of rows a bound's CHECK does not admit (NULL counts as outside),
// written so that postgres_fdw sends it to the shard whole: a DELETE of the leaving rows
// runs there as one statement instead of one per row.
func outside(check string) string { return "(NOT (" + check + ") OR (" + check + ") IS NULL)" }

// remoteOf names p's shard table and its bound CHECK.
func remoteOf(p Partition) ShardTable {
	schema, name := p.Options["schema_name"], p.Options["table_name"]
	if schema == "" {
		schema = p.Schema
	}
	if name == "" {
		name = p.Name
	}
	return ShardTable{Server: p.Server, Schema: schema, Name: name, CheckName: BoundCheckName(name)}
}

// setRemoteCheckOnline replaces the shard's bound CHECK without holding the shard table
// while its rows are checked: the new CHECK is added NOT VALID (a short lock, no scan), then
// validated (a scan under a lock that lets the table be read and written). A shard holding
// rows the CHECK refuses fails the second step and keeps the CHECK for new rows.
func setRemoteCheckOnline(ctx context.Context, db *sql.DB, t ShardTable, check string) error {
	if err := execOnShard(ctx, db, t.Server, setRemoteCheckNotValidSQL(t, check)); err != nil {
		return err
	}
	return execOnShard(ctx, db, t.Server, validateRemoteCheckSQL(t))
}

// validateRemoteCheckSQL validates the shard's bound CHECK.
func validateRemoteCheckSQL(t ShardTable) string {
	return "ALTER TABLE " + QualifiedIdent(t.Schema, t.Name) + " VALIDATE CONSTRAINT " + Ident(t.CheckName)
}

// setRemoteCheckNotValidSQL replaces the shard's bound CHECK with one that new rows must
// meet while the rows already there are not checked yet.
func setRemoteCheckNotValidSQL(t ShardTable, check string) string {
	return "ALTER TABLE " + QualifiedIdent(t.Schema, t.Name) + " DROP CONSTRAINT IF EXISTS " + Ident(t.CheckName) +
		", ADD CONSTRAINT " + Ident(t.CheckName) + " CHECK (" + check + ") NOT VALID"
}

// RowsOutside counts a partition's rows that bound to does not admit (through the foreign
// server for a shard): what a narrowing bound change would leave outside.
func RowsOutside(ctx context.Context, q Querier, p Partition, to Bound) (int64, error) {
	parent, err := ReadTable(ctx, q, p.ParentSchema, p.ParentName)
	if err != nil {
		return 0, err
	}
	if parent.PartitionBy == nil {
		return 0, nil
	}
	check := to.CheckSQL(KeySQL(parent.PartitionBy.Key))
	if to.isNone() {
		check = "false"
	}
	if check == "" {
		return 0, nil
	}
	var n int64
	err = q.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+p.Qualified()+" WHERE "+outside(check)).Scan(&n)
	return n, err
}

// KeyRows is how many rows of one partition key value a move takes.
type KeyRows struct {
	Key  string // the key's value as PostgreSQL prints it; several columns joined by ", "
	Rows int64
}

// maxKeysShown bounds the keys a plan lists one by one.
const maxKeysShown = 20

// rowsByKey counts, per key value, the rows of table (a partition, or the DEFAULT partition)
// that meet cond over the parent's key: exact counts, made now, grouped by the key's columns
// (so that postgres_fdw sends the count to the shard for a foreign partition). At most
// maxKeysShown+1 keys come back, the biggest first.
func rowsByKey(ctx context.Context, q Querier, parent *Table, table, cond string) ([]KeyRows, error) {
	return rowsByKeyFrom(ctx, q, parent, "ONLY "+table, cond)
}

// DefaultRowsByKey is RowsByKey over the rows of DEFAULT (def) and of the parent's holding
// partitions, which hold DEFAULT's rows of keys moved into it (see holding.go).
func DefaultRowsByKey(ctx context.Context, q Querier, parent *Table, def, cond string) ([]KeyRows, error) {
	hs, err := holdingsOf(ctx, q, parent.Schema, parent.Name)
	if err != nil {
		return nil, err
	}
	return rowsByKeyFrom(ctx, q, parent, defaultSide(def, hs, columnList(parent.Columns)), cond)
}

// rowsByKeyFrom is RowsByKey over a FROM item.
func rowsByKeyFrom(ctx context.Context, q Querier, parent *Table, from, cond string) ([]KeyRows, error) {
	key := strings.Join(KeySQL(parent.PartitionBy.Key), ", ")
	rows, err := q.QueryContext(ctx, "SELECT "+key+", count(*) FROM "+from+" WHERE "+cond+
		" GROUP BY "+key+" ORDER BY count(*) DESC LIMIT "+strconv.Itoa(maxKeysShown+1))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeyRows
	for rows.Next() {
		vals := make([]sql.NullString, len(parent.PartitionBy.Key))
		dest := make([]any, 0, len(vals)+1)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		var k KeyRows
		if err := rows.Scan(append(dest, &k.Rows)...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = Literal(v.String)
			}
		}
		k.Key = strings.Join(parts, ", ")
		out = append(out, k)
	}
	return out, rows.Err()
}

// MovingKeys counts per key the rows a bound change moves: the rows of p (attached with
// from) that to leaves outside, or the DEFAULT rows to takes in. It returns which of the two
// (toDefault) and the name of the DEFAULT partition.
func MovingKeys(ctx context.Context, q Querier, p Partition, from, to Bound) (keys []KeyRows, toDefault bool, def string, err error) {
	parent, oldCheck, newCheck, err := keyChecks(ctx, q, p, from, to)
	if err != nil {
		return nil, false, "", err
	}
	if def, err = defaultPartition(ctx, q, p.ParentSchema, p.ParentName); err != nil {
		return nil, false, "", err
	}
	keys, err = rowsByKey(ctx, q, parent, p.Qualified(), outside(newCheck))
	if err != nil || len(keys) > 0 || def == "" || to.isNone() {
		return keys, true, def, err
	}
	keys, err = DefaultRowsByKey(ctx, q, parent, def, "("+newCheck+") AND "+outside(oldCheck))
	return keys, false, def, err
}

// PendingMove counts the rows in the journal of a move out of partition p that an earlier
// apply left half done and that are nowhere else: rows that left the shard and did not
// reach DEFAULT, visible nowhere through the parent until the move is finished or undone.
// found reports whether there is a journal at all (a journal whose rows are all still on
// the shard is a copy, left by a move stopped before its switch).
func PendingMove(ctx context.Context, q Querier, p Partition) (rows int64, found bool, err error) {
	l, err := findMoveLeftovers(ctx, q, p)
	return l.OnlyInJournal, l.Journal != "", err
}
