package postgres

// Tiering: a local period moves, whole, to a shard table on another server (an archive),
// and a foreign partition over it takes the period's place. The table stays online: the
// copy, its verification and the delete at the source run in one base transaction before
// any lock of the parent's, and only the switch (detach, drop, rename, attach) locks it.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// tierStagingName is the foreign table a period is copied into before it takes the
// period's name at the switch.
func tierStagingName(name string) string { return TruncateIdentifier("pgshard_tier_"+name, "") }

// TierPeriod moves local period p of spec's parent to server (a shard table of the period's
// name in remoteSchema, made when missing, with the parent's columns and the period's
// CHECK), in one base transaction that
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
func TierPeriod(ctx context.Context, db *sql.DB, spec PeriodSpec, p Period, server, remoteSchema string) (err error) {
	if p.Foreign {
		return fmt.Errorf("%s.%s is a foreign partition on server %s: only local periods can be tiered yet", spec.Parent.Schema, p.Name, p.Server)
	}
	target := spec.PartitionOf(Period{Name: p.Name, From: p.From, To: p.To, Server: server}, remoteSchema)
	staging := target
	staging.Name = tierStagingName(p.Name)
	remote := ShardTableFor(target, spec.Parent, nil)
	if err := EnsureShardTable(ctx, db, remote, spec.Parent); err != nil {
		return err
	}
	source := QualifiedIdent(spec.Parent.Schema, p.Name)
	cols := ColumnList(WrittenColumns(spec.Parent.Columns))
	return fencedCreate(ctx, db, target, spec.Parent, false, func() error {
		return InTx(ctx, db, func(tx *sql.Tx) error {
			logStep(ctx, "copy the period to server "+server+" (the table stays online)", spec.Parent.Schema+"."+p.Name)
			if _, err := tx.ExecContext(ctx, createForeignTableSQL(staging, spec.Parent)); err != nil {
				return err
			}
			n, sum, err := copyPeriod(ctx, tx, source, staging.Qualified(), cols)
			if err != nil {
				return err
			}
			logStep(ctx, fmt.Sprintf("delete the %d copied rows from the period", n), spec.Parent.Schema+"."+p.Name)
			var dn, dsum int64
			err = tx.QueryRowContext(ctx, "WITH d AS (DELETE FROM ONLY "+source+" RETURNING "+cols+") SELECT count(*), "+rowChecksum("d")+" FROM d").Scan(&dn, &dsum)
			if err != nil {
				return err
			}
			if dn != n || dsum != sum {
				return fmt.Errorf("the rows of %s changed while they were copied to server %s (%d rows deleted, %d copied, checksums %d and %d): nothing was changed; apply again",
					source, server, dn, n, dsum, sum)
			}
			return switchTier(ctx, tx, target, staging, source)
		})
	})
}

// rowChecksum is the order-independent checksum of the rows of alias (see checksumOf).
func rowChecksum(alias string) string {
	return "coalesce(sum(hashtextextended(" + alias + "::text, 0)) % 9223372036854775807, 0)::bigint"
}

// copyPeriod copies the rows of source into the foreign table staging, returning their
// count and checksum as the shard took them, or, when the shard table already holds rows
// (a tier whose base commit failed after the shard's), checks that they are exactly the
// source's and copies nothing.
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
			"it is not a copy left by an interrupted tier; empty it or move it away; nothing was changed", staging, held, onlyShard, onlySource)
	}
	n, sum, err = checksumOf(ctx, tx, "SELECT "+cols+" FROM "+staging)
	return n, sum, err
}

// switchTier ends a tier inside tx: DEFAULT's fence validated (no lock that blocks a reader
// or writer), then the parent and DEFAULT locked briefly at a time, the emptied period
// detached and dropped, the staging foreign table renamed to the period's name and
// attached with its bound, and the fence dropped.
func switchTier(ctx context.Context, tx *sql.Tx, target, staging Partition, source string) error {
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
	lock := "LOCK TABLE ONLY " + target.Parent() + " IN ACCESS EXCLUSIVE MODE"
	if fenced {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+def+" VALIDATE CONSTRAINT "+Ident(fenceName(target))); err != nil {
			return err
		}
		lock = "LOCK TABLE ONLY " + target.Parent() + ", ONLY " + def + " IN ACCESS EXCLUSIVE MODE"
	}
	logStep(ctx, "switch the period to its foreign table and commit (the parent is locked from here to the commit)", target.Schema+"."+target.Name)
	if err := lockBriefly(ctx, tx, lock); err != nil {
		return err
	}
	for _, stmt := range []string{
		"ALTER TABLE " + target.Parent() + " DETACH PARTITION " + source,
		"DROP TABLE " + source,
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
func EnsureShardTable(ctx context.Context, db *sql.DB, remote RemoteTable, parent *Table) (err error) {
	shard, err := OpenRemote(ctx, db, remote.Server)
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
		if err := CheckRemoteColumns(parent.Columns, cols); err != nil {
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
