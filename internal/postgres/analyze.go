package postgres

import (
	"context"
	"database/sql"
	"fmt"
)

// AnalyzedPartition is a foreign partition ANALYZE sampled, with what its statistics say.
type AnalyzedPartition struct {
	Schema, Name, Server string
	// Rows is the row count the statistics estimate (pg_class.reltuples).
	Rows int64
}

// ForeignPartitionsIn lists the foreign partitions in the tree of the partitioned table
// schema.name (those of its partitioned partitions too), ordered by schema and name within
// each level. It returns ErrNotFound when no relation has the name.
func ForeignPartitionsIn(ctx context.Context, q Querier, schema, name string) ([]PartitionInfo, error) {
	oid, kind, _, err := relation(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	if kind != RelPartitioned {
		return nil, fmt.Errorf("%s is not a partitioned table", QualifiedIdent(schema, name))
	}
	var out []PartitionInfo
	var walk func(parent uint32) error
	walk = func(parent uint32) error {
		parts, err := partitionsOf(ctx, q, parent)
		if err != nil {
			return err
		}
		for _, p := range parts {
			switch {
			case p.Foreign:
				out = append(out, p)
			case p.Kind == RelPartitioned:
				child, _, _, err := relation(ctx, q, p.Schema, p.Name)
				if err != nil {
					return err
				}
				if err := walk(child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(oid)
}

// AnalyzeForeignPartition runs ANALYZE on one foreign partition: postgres_fdw samples its
// shard table, and the base gets statistics for it (autovacuum never analyzes foreign
// tables, so without them the planner guesses). A canceled ctx cancels the statement.
func AnalyzeForeignPartition(ctx context.Context, db *sql.DB, p PartitionInfo) (AnalyzedPartition, error) {
	logProgress(ctx, "analyze foreign partition", p.Schema+"."+p.Name)
	if _, err := db.ExecContext(ctx, "ANALYZE "+QualifiedIdent(p.Schema, p.Name)); err != nil {
		return AnalyzedPartition{}, err
	}
	a := AnalyzedPartition{Schema: p.Schema, Name: p.Name, Server: p.Server}
	err := db.QueryRowContext(ctx, `
SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`, p.Schema, p.Name).Scan(&a.Rows)
	return a, err
}
