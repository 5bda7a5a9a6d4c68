package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// A foreign partition with its shard table: created (and the shard table with it), updated
// in place (renamed, its bound and the shard's CHECK changed together), and the sequences
// that attaching a shard table holding rows sets past their ids.

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
		s.OnShard(to.Server, setShardCheckSQL(remoteSchema, remoteTable, BoundCheckName(remoteTable), to.Bound.CheckSQL(KeySQL(key.Key))))
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
	r, err := openShardSessionIn(ctx, tx, to.Server)
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

// ShardSequencesToAdvance says which sequences of the parent schema.name attaching a
// foreign partition over shard table remoteSchema.remoteTable (through server) would set
// past the ids the shard table holds already (those of its own identity range left out),
// read on the shard in one query. It changes nothing.
func ShardSequencesToAdvance(ctx context.Context, db *sql.DB, schema, name, server, remoteSchema, remoteTable string, shardIdentity *Identity) ([]SequenceAdvance, error) {
	var behind []SequenceAdvance
	err := withShardSession(ctx, db, server, func(r *ShardSession) error {
		var err error
		behind, err = shardSequencesBehind(ctx, db, r, schema, name, remoteSchema, remoteTable, shardIdentity)
		return err
	})
	return behind, err
}

// shardSequencesBehind is ShardSequencesToAdvance on a ShardSession, with the base read through q.
func shardSequencesBehind(ctx context.Context, q Querier, r *ShardSession, schema, name, remoteSchema, remoteTable string, shardIdentity *Identity) ([]SequenceAdvance, error) {
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
		return inTx(ctx, db, func(tx *sql.Tx) error {
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
func CreateForeignPartitionWithShardTable(ctx context.Context, db *sql.DB, p Partition, parent *Table, remote ShardTable, moveRows bool) (leftBehind, err error) {
	// DEFAULT's constraint is added and dropped on connections of their own, before and
	// after the dblink session holds its one (see fencedCreate).
	err = fencedCreate(ctx, db, p, parent, moveRows, func() error {
		leftBehind, err = createWithShardTable(ctx, db, p, parent, remote, moveRows)
		return err
	})
	return leftBehind, err
}

// createWithShardTable is CreateForeignPartitionWithShardTable inside DEFAULT's constraint.
func createWithShardTable(ctx context.Context, db *sql.DB, p Partition, parent *Table, remote ShardTable, moveRows bool) (leftBehind, err error) {
	shard, err := OpenShardSession(ctx, db, p.Server)
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
		if err := checkShardColumns(parent.Columns, cols); err != nil {
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
