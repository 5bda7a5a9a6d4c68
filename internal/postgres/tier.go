package postgres

// Tiering: a local period moves, whole, to a shard table on another server (an archive),
// and a foreign partition over it takes the period's place. The table stays online: the
// copy, its verification and the delete at the source run in one base transaction before
// any lock of the parent's, and only the switch (detach, drop, rename, attach) locks it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// tierStagingName is the foreign table a period is copied into before it takes the
// period's name at the switch.
func tierStagingName(name string) string { return TruncateIdentifier("pgshard_tier_"+name, "") }

// TierPeriod moves local period p of spec's parent to server (a shard table of the period's
// name in remoteSchema, made when missing, with the parent's columns and the period's
// CHECK). The period is frozen first (freezeLocalPeriod: new and changed rows refused),
// then one base transaction
//   - copies the period's rows into the shard table through postgres_fdw, with their count
//     and checksum as the shard took them (RETURNING);
//   - deletes them from the period, checking that what it deletes is what was copied (a row
//     written, changed or deleted meanwhile fails the tier: nothing changes; apply again);
//   - switches: locks the parent and DEFAULT briefly at a time, detaches and drops the
//     emptied period and attaches the foreign table in its place. DEFAULT's fence (see
//     fencedCreate), validated before the lock, spares the ATTACH its scan of DEFAULT.
//
// The shard's part commits just before the base's: if the base's commit then fails, the
// shard table holds a copy of the period, which still holds its rows. The next tier finds
// it, checks that it holds exactly the period's rows (row text, as a multiset) and goes on
// without copying; a shard table holding anything else is an error naming the counts.
func TierPeriod(ctx context.Context, db *sql.DB, spec PeriodSpec, p Period, server, remoteSchema string) error {
	if p.Foreign {
		return tierForeignPeriod(ctx, db, spec, p, server, remoteSchema)
	}
	target := spec.PartitionOf(Period{Name: p.Name, From: p.From, To: p.To, Server: server}, remoteSchema)
	staging := target
	staging.Name = tierStagingName(p.Name)
	remote := ShardTableFor(target, spec.Parent, nil)
	if err := EnsureShardTable(ctx, db, remote, spec.Parent); err != nil {
		return err
	}
	source := QualifiedIdent(spec.Parent.Schema, p.Name)
	if err := freezeLocalPeriod(ctx, db, source); err != nil {
		return err
	}
	if err := refuseSameTable(ctx, db, server, remoteSchema, target.Options["table_name"], source); err != nil {
		return unfreezeAfter(ctx, db, spec.Parent.Schema, p.Name, err)
	}
	cols := columnList(writtenColumns(spec.Parent.Columns))
	err := fencedCreate(ctx, db, target, spec.Parent, false, func() error {
		return inTx(ctx, db, func(tx *sql.Tx) error {
			if err := lockTierParent(ctx, tx, spec.Parent); err != nil {
				return err
			}
			logProgress(ctx, "copy the period to server "+server+" (the table stays online)", spec.Parent.Schema+"."+p.Name)
			if _, err := tx.ExecContext(ctx, createForeignTableSQL(staging, spec.Parent)); err != nil {
				return err
			}
			n, sum, err := copyPeriod(ctx, tx, source, staging.Qualified(), cols)
			if err != nil {
				return err
			}
			logProgress(ctx, fmt.Sprintf("delete the %d copied rows from the period", n), spec.Parent.Schema+"."+p.Name)
			var dn, dsum int64
			err = tx.QueryRowContext(ctx, "WITH d AS (DELETE FROM ONLY "+source+" RETURNING "+cols+") SELECT count(*), "+rowChecksum("d")+" FROM d").Scan(&dn, &dsum)
			if err != nil {
				return err
			}
			if dn != n || dsum != sum {
				return fmt.Errorf("the rows of %s changed while they were copied to server %s (%d rows deleted, %d copied, checksums %d and %d): nothing was changed; apply again",
					source, server, dn, n, dsum, sum)
			}
			return switchTier(ctx, tx, target, staging, source, false)
		})
	})
	if err != nil {
		return unfreezeAfter(ctx, db, spec.Parent.Schema, p.Name, err)
	}
	return nil
}

// lockTierParent takes the parent's SHARE UPDATE EXCLUSIVE lock, briefly at a time, first
// in a tier's transaction: it blocks no reader or writer, and keeps the lock order of every
// other partition DDL (the parent before its partitions), so that the switch's later
// ACCESS EXCLUSIVE cannot close a cycle with a DDL that took the parent first.
func lockTierParent(ctx context.Context, tx *sql.Tx, parent *Table) error {
	return lockBriefly(ctx, tx, "LOCK TABLE ONLY "+parent.Qualified()+" IN SHARE UPDATE EXCLUSIVE MODE")
}

// freezeConstraint refuses every new or changed row of a local period being tiered.
const freezeConstraint = "pgshard_frozen"

// freezeLocalPeriod marks local period source (tierMark) and gives it a constraint that no
// row satisfies, not validated, committed before the copy: the ALTER waits (briefly at a
// time) for the writers already in it, and from its commit inserts and updates of the
// period are refused, naming the constraint. Deletes still run; the tier's checksum of what
// it deletes catches them.
func freezeLocalPeriod(ctx context.Context, db *sql.DB, source string) error {
	logStep(ctx, "freeze the period (writes are refused until the tier ends)", source)
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockBriefly(ctx, tx, "ALTER TABLE "+source+" DROP CONSTRAINT IF EXISTS "+Ident(freezeConstraint)+
			", ADD CONSTRAINT "+Ident(freezeConstraint)+" CHECK (false) NOT VALID"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "COMMENT ON TABLE "+source+" IS "+Literal(tierMark))
		return err
	})
}

// unfreezeAfter lifts the freeze of period schema.name after a tier failed with cause, on
// a context of its own; a failure to is joined to cause (the next plan shows the period
// frozen, and its apply lifts it).
func unfreezeAfter(ctx context.Context, db *sql.DB, schema, name string, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := UnfreezePeriod(rctx, db, schema, name); err != nil {
		return errors.Join(cause, fmt.Errorf("the period %s.%s stays frozen (it refuses writes) until the next apply: %w", schema, name, err))
	}
	return cause
}

// tierMark is the comment a foreign period carries while its source shard table is frozen
// for a tier (see tierForeignPeriod): a plan that finds it says so.
const tierMark = "pgshard: tiering; its shard table refuses writes until the tier ends"

// tierForeignPeriod moves foreign period p of spec's parent from its shard to server. Two
// shards cannot commit together, so the source is never written: it is frozen first (row
// triggers on its shard table refuse every insert, update and delete, and a statement
// trigger every truncate), then one base transaction copies it to the target through
// postgres_fdw, checks that the copy (count and checksum as the target took it) is the
// source's, and switches as a local tier does, dropping only the local foreign table.
// After the commit the source's shard table is dropped. Killed before the switch, the
// period stays frozen, marked (tierMark), until an apply tiers it again (the copy left on
// the target is recognised) or someone lifts the freeze (see UnfreezePeriod).
func tierForeignPeriod(ctx context.Context, db *sql.DB, spec PeriodSpec, p Period, server, remoteSchema string) error {
	cur, err := ReadPartition(ctx, db, spec.Parent.Schema, p.Name)
	if err != nil {
		return err
	}
	srcSchema, srcTable := remoteNames(cur)
	target := spec.PartitionOf(Period{Name: p.Name, From: p.From, To: p.To, Server: server}, remoteSchema)
	if target.Options["schema_name"] == srcSchema && target.Options["table_name"] == srcTable && server == p.Server {
		return nil
	}
	staging := target
	staging.Name = tierStagingName(p.Name)
	if err := EnsureShardTable(ctx, db, ShardTableFor(target, spec.Parent, nil), spec.Parent); err != nil {
		return err
	}
	source := QualifiedIdent(spec.Parent.Schema, p.Name)
	if err := freezePeriod(ctx, db, source, p.Server, srcSchema, srcTable); err != nil {
		return err
	}
	if err := refuseSameTable(ctx, db, server, remoteSchema, target.Options["table_name"], source); err != nil {
		return unfreezeAfter(ctx, db, spec.Parent.Schema, p.Name, err)
	}
	var copied int64
	cols := columnList(writtenColumns(spec.Parent.Columns))
	err = fencedCreate(ctx, db, target, spec.Parent, false, func() error {
		return inTx(ctx, db, func(tx *sql.Tx) error {
			if err := lockTierParent(ctx, tx, spec.Parent); err != nil {
				return err
			}
			logProgress(ctx, "copy the frozen period from server "+p.Server+" to server "+server+" (the table stays online)", spec.Parent.Schema+"."+p.Name)
			if _, err := tx.ExecContext(ctx, createForeignTableSQL(staging, spec.Parent)); err != nil {
				return err
			}
			n, sum, err := copyPeriod(ctx, tx, source, staging.Qualified(), cols)
			if err != nil {
				return err
			}
			sn, ssum, err := checksumOf(ctx, tx, "SELECT "+cols+" FROM ONLY "+source)
			if err != nil {
				return err
			}
			if sn != n || ssum != sum {
				return fmt.Errorf("the copy of %s on server %s is not its rows on server %s (%d rows and checksum %d copied, %d and %d there): nothing was changed; apply again",
					source, server, p.Server, n, sum, sn, ssum)
			}
			copied = n
			if err := switchTier(ctx, tx, target, staging, source, true); err != nil {
				return err
			}
			// The old shard table is dropped after the commit: the switch records it, so
			// that a drop that fails, or a provider killed before it, is finished later.
			mark, err := oldTableMark(OldShardTable{Server: p.Server, Schema: srcSchema, Table: srcTable, Rows: n})
			if err == nil {
				_, err = tx.ExecContext(ctx, "COMMENT ON FOREIGN TABLE "+source+" IS "+Literal(mark))
			}
			return err
		})
	})
	if err != nil {
		return unfreezeAfter(ctx, db, spec.Parent.Schema, p.Name, err)
	}
	return DropOldShardTable(ctx, db, spec.Parent.Schema, p.Name, OldShardTable{Server: p.Server, Schema: srcSchema, Table: srcTable, Rows: copied})
}

// OldShardTable is the shard table a foreign period was read from before a tier moved it:
// frozen, a copy of the rows now on the tier, dropped once the base has committed.
type OldShardTable struct {
	Server string `json:"server"`
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
}

// oldTableMarkPrefix begins the comment on a tiered period whose old shard table is still
// to be dropped; the rest is the OldShardTable as JSON.
const oldTableMarkPrefix = "pgshard: old shard table to drop: "

func oldTableMark(o OldShardTable) (string, error) {
	b, err := json.Marshal(o)
	return oldTableMarkPrefix + string(b), err
}

// DropOldShardTable drops period schema.name's old shard table (see dropOldShardTable) and
// then its mark; while the drop fails, the mark stays and the plan shows the period frozen.
func DropOldShardTable(ctx context.Context, db *sql.DB, schema, name string, o OldShardTable) error {
	logStep(ctx, "drop the period's old shard table on server "+o.Server+" (its rows are on the tier)", o.Schema+"."+o.Table)
	if err := dropOldShardTable(ctx, db, o.Server, o.Schema, o.Table, o.Rows); err != nil {
		return fmt.Errorf("%s.%s moved, but its old shard table %s.%s on server %s, frozen, could not be dropped (the next apply tries again): %w",
			schema, name, o.Schema, o.Table, o.Server, err)
	}
	_, err := db.ExecContext(ctx, "COMMENT ON FOREIGN TABLE "+QualifiedIdent(schema, name)+" IS NULL")
	return err
}

// remoteNames is the shard schema and table a foreign partition reads (postgres_fdw's
// defaults: the local schema and name).
func remoteNames(p *Partition) (schema, table string) {
	schema, table = p.Options["schema_name"], p.Options["table_name"]
	if schema == "" {
		schema = p.Schema
	}
	if table == "" {
		table = p.Name
	}
	return schema, table
}

// freezeFunction is the trigger function that refuses writes to a frozen period's table.
const freezeFunction = "pgshard_refuse_writes"

// freezePeriod marks foreign period source (tierMark, committed on the base first, so that a
// plan finds a freeze an interrupted tier left) and freezes its shard table schema.table on
// server: BEFORE row triggers refuse inserts, updates and deletes, however routed, and a
// statement trigger truncates, naming the period. Creating a trigger waits for the table's
// lock briefly (the provider's lock_timeout on the shard).
func freezePeriod(ctx context.Context, db *sql.DB, source, server, schema, table string) error {
	logStep(ctx, "freeze the period's shard table on server "+server+" (writes are refused until the tier ends)", schema+"."+table)
	if _, err := db.ExecContext(ctx, "COMMENT ON FOREIGN TABLE "+source+" IS "+Literal(tierMark)); err != nil {
		return err
	}
	fn := QualifiedIdent(schema, freezeFunction)
	t := QualifiedIdent(schema, table)
	body := "BEGIN RAISE EXCEPTION 'pgshard: % is moving to another server; writes are refused until the move ends', TG_TABLE_NAME USING ERRCODE = 'object_in_use'; END"
	return withShardSession(ctx, db, server, func(r *ShardSession) error {
		return r.Exec(ctx,
			"CREATE OR REPLACE FUNCTION "+fn+"() RETURNS trigger LANGUAGE plpgsql AS "+Literal(body),
			"DROP TRIGGER IF EXISTS pgshard_frozen ON "+t,
			"DROP TRIGGER IF EXISTS pgshard_frozen_truncate ON "+t,
			"CREATE TRIGGER pgshard_frozen BEFORE INSERT OR UPDATE OR DELETE ON "+t+" FOR EACH ROW EXECUTE FUNCTION "+fn+"()",
			"CREATE TRIGGER pgshard_frozen_truncate BEFORE TRUNCATE ON "+t+" FOR EACH STATEMENT EXECUTE FUNCTION "+fn+"()",
			// Fired in replica sessions too (session_replication_role = replica, logical
			// replication's apply).
			"ALTER TABLE "+t+" ENABLE ALWAYS TRIGGER pgshard_frozen",
			"ALTER TABLE "+t+" ENABLE ALWAYS TRIGGER pgshard_frozen_truncate")
	})
}

// refuseSameTable fails when the tier's target table (schema.table on server) is the
// period's own table, frozen a moment ago: two servers (or a server and the base) that
// reach the same database would otherwise make the copy a no-op and the drop of the
// source a loss. The freeze is the mark: a constraint (local period) or triggers (foreign)
// named pgshard_frozen.
func refuseSameTable(ctx context.Context, db *sql.DB, server, schema, table, source string) error {
	rel := Literal(QualifiedIdent(schema, table))
	probe := "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(" + rel + ") AND tgname = 'pgshard_frozen') " +
		"OR EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(" + rel + ") AND conname = " + Literal(freezeConstraint) + ")"
	var same bool
	err := withShardSession(ctx, db, server, func(r *ShardSession) error {
		var err error
		same, err = r.QueryBool(ctx, probe)
		return err
	})
	if err == nil && same {
		err = fmt.Errorf("the tier's table %s.%s on server %s is %s's own table (the server reaches the database the period is in): "+
			"point the tier at another database, or change remote_schema; nothing was moved", schema, table, server, source)
	}
	return err
}

// dropOldShardTable drops a tiered foreign period's old shard table schema.table on server
// once the base has committed the switch, in one remote transaction that first locks it
// and checks that it is still frozen and holds the rows copied (n): a write the freeze did
// not stop (its triggers disabled by hand) keeps the table, and the error says so.
func dropOldShardTable(ctx context.Context, db *sql.DB, server, schema, table string, n int64) error {
	t := QualifiedIdent(schema, table)
	// A partition of the shard's parent (remote_parent): its DROP locks the parent, which is
	// locked first, in the order the service's queries take them.
	body := "DECLARE p regclass; BEGIN " +
		"IF to_regclass(" + Literal(t) + ") IS NULL THEN RETURN; END IF; " +
		"SELECT inhparent::regclass INTO p FROM pg_inherits WHERE inhrelid = " + Literal(t) + "::regclass; " +
		"IF p IS NOT NULL THEN EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', p); END IF; " +
		"LOCK TABLE " + t + " IN ACCESS EXCLUSIVE MODE; " +
		"IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = " + Literal(t) + "::regclass AND tgname = 'pgshard_frozen' AND tgenabled = 'A') " +
		"OR (SELECT count(*) FROM " + t + ") <> " + strconv.FormatInt(n, 10) + " THEN " +
		"RAISE EXCEPTION 'pgshard: % changed while it was copied (its freeze was lifted or disabled); it is kept', " + Literal(t) + "; END IF; " +
		"DROP TABLE " + t + "; END"
	return withShardSession(ctx, db, server, func(r *ShardSession) error { return r.ExecBriefly(ctx, "DO "+Literal(body)) })
}

// UnfreezePeriod lifts the freeze an interrupted tier left on period schema.name: a local
// period's constraint, or a foreign period's shard table's triggers, and the base's mark.
func UnfreezePeriod(ctx context.Context, db *sql.DB, schema, name string) error {
	cur, err := ReadPartition(ctx, db, schema, name)
	if err != nil {
		return err
	}
	if !cur.Foreign {
		logStep(ctx, "lift the freeze of the period", schema+"."+name)
		return inTx(ctx, db, func(tx *sql.Tx) error {
			if err := lockBriefly(ctx, tx, "ALTER TABLE "+cur.Qualified()+" DROP CONSTRAINT IF EXISTS "+Ident(freezeConstraint)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "COMMENT ON TABLE "+cur.Qualified()+" IS NULL")
			return err
		})
	}
	srcSchema, srcTable := remoteNames(cur)
	t := QualifiedIdent(srcSchema, srcTable)
	logStep(ctx, "lift the freeze an interrupted tier left on server "+cur.Server, srcSchema+"."+srcTable)
	if err := withShardSession(ctx, db, cur.Server, func(r *ShardSession) error {
		return r.Exec(ctx, "DROP TRIGGER IF EXISTS pgshard_frozen ON "+t, "DROP TRIGGER IF EXISTS pgshard_frozen_truncate ON "+t)
	}); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "COMMENT ON FOREIGN TABLE "+QualifiedIdent(schema, name)+" IS NULL")
	return err
}

// rowChecksum is the order-independent checksum of the rows of alias (see checksumOf).
func rowChecksum(alias string) string {
	return "coalesce(sum(hashtextextended(" + alias + "::text, 0)) % 9223372036854775807, 0)::bigint"
}

// copyPeriod copies the rows of source into the foreign table staging, returning their
// count and checksum as the shard took them, or, when the shard table already holds rows
// (a tier whose base commit failed after the shard's), checks that they are exactly the
// source's and copies nothing. Rows that are not are never deleted: the table may be
// another parent's (a parent of the same name in another schema or base) or hold rows
// nobody else has.
func copyPeriod(ctx context.Context, tx *sql.Tx, source, staging, cols string) (n, sum int64, err error) {
	var held int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+staging).Scan(&held); err != nil {
		return 0, 0, err
	}
	if held == 0 {
		err = tx.QueryRowContext(ctx, "WITH c AS (INSERT INTO "+staging+" ("+cols+") SELECT "+cols+" FROM ONLY "+source+" RETURNING "+cols+") SELECT count(*), "+rowChecksum("c")+" FROM c").Scan(&n, &sum)
		return n, sum, err
	}
	var onlySource, onlyShard int64
	diff := func(a, b string) string {
		return "SELECT count(*) FROM (SELECT ROW(" + cols + ")::text FROM " + a + " EXCEPT ALL SELECT ROW(" + cols + ")::text FROM " + b + ") x"
	}
	if err := tx.QueryRowContext(ctx, diff("ONLY "+source, staging)).Scan(&onlySource); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, diff(staging, "ONLY "+source)).Scan(&onlyShard); err != nil {
		return 0, 0, err
	}
	if onlySource != 0 || onlyShard != 0 {
		return 0, 0, fmt.Errorf("the shard table of %s holds %d rows already, %d of them not the period's, and the period holds %d rows it lacks: "+
			"it is not a copy left by an interrupted tier (or the period changed since one); empty it or move it away (another parent of the same name may use it: give each its own remote_schema); nothing was changed", staging, held, onlyShard, onlySource)
	}
	n, sum, err = checksumOf(ctx, tx, "SELECT "+cols+" FROM "+staging)
	return n, sum, err
}

// switchTier ends a tier inside tx: DEFAULT's fence validated (no lock that blocks a reader
// or writer), then the parent and DEFAULT locked briefly at a time, the period (source,
// a foreign table when foreign) detached and dropped, the staging foreign table renamed to the period's name and
// attached with its bound, and the fence dropped.
func switchTier(ctx context.Context, tx *sql.Tx, target, staging Partition, source string, foreign bool) error {
	def, err := defaultPartition(ctx, tx, target.ParentSchema, target.ParentName)
	if err != nil {
		return err
	}
	fenced := false
	if def != "" {
		if fenced, err = hasConstraint(ctx, tx, def, fenceName(target)); err != nil {
			return err
		}
	}
	if fenced {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" VALIDATE CONSTRAINT "+Ident(fenceName(target))); err != nil {
			return err
		}
	}
	logStep(ctx, "switch the period to its foreign table and commit (the parent is locked from here to the commit)", target.Schema+"."+target.Name)
	local := source
	if foreign {
		local = ""
	}
	if err := lockForSwitch(ctx, tx, target.Parent(), def, local); err != nil {
		return err
	}
	for _, stmt := range []string{
		"ALTER TABLE " + target.Parent() + " DETACH PARTITION " + source,
		map[bool]string{false: "DROP TABLE ", true: "DROP FOREIGN TABLE "}[foreign] + source,
		"ALTER FOREIGN TABLE " + staging.Qualified() + " RENAME TO " + Ident(target.Name),
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return attachUnfenced(ctx, tx, target, def, fenced)
}

// EnsureShardTable makes the shard table remote when it is missing, or checks that the
// one there has the parent's columns, through one dblink session closed before the
// caller's transaction takes a pooled connection.
func EnsureShardTable(ctx context.Context, db *sql.DB, remote ShardTable, parent *Table) (err error) {
	shard, err := OpenShardSession(ctx, db, remote.Server)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shard.Close()) }()
	cols, exists, err := shard.Columns(ctx, remote.Schema, remote.Name)
	switch {
	case err != nil:
		return err
	case !exists:
		logStep(ctx, "create the shard table on server "+remote.Server, remote.Schema+"."+remote.Name)
		return shard.CreateTable(ctx, remote)
	default:
		if err := checkShardColumns(parent.Columns, cols); err != nil {
			return fmt.Errorf("the shard table %s.%s on server %s: %w", remote.Schema, remote.Name, remote.Server, err)
		}
		return nil
	}
}

// Tier is where periods go once old enough: those whose end is After or more before as_of
// move to Server.
type Tier struct {
	After  Interval
	Server string
}

// serverAt names the server a period ending at end belongs on at spec.AsOf: that of the
// tier with the longest After it has passed (tiered), or spec.Server when none.
func (spec PeriodSpec) serverAt(end time.Time) (server string, tiered bool) {
	best := -1
	var bestCut time.Time
	for i, t := range spec.Tiers {
		cut := t.After.Add(spec.AsOf, -1)
		if !end.After(cut) && (best < 0 || cut.Before(bestCut)) {
			best, bestCut = i, cut
		}
	}
	if best < 0 {
		return spec.Server, false
	}
	return spec.Tiers[best].Server, true
}
