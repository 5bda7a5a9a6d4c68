package postgres

import (
	"context"
	"fmt"
	"strings"
)

// No statement that can destroy rows or values runs unless what it would destroy was
// counted, in the transaction that runs it, and is nothing, or the user opted in (force).
// The counts here are also what plan-time checks show.

// LossError refuses a change that would destroy rows or values.
type LossError struct {
	Change string   // what was refused, such as "dropping public.tweets_default"
	Held   []string // what would be lost: "public.t (3 rows)", "column \"c\" (2 values)"
}

func (e *LossError) Error() string {
	return fmt.Sprintf("%s would destroy data: it still holds %s", e.Change, strings.Join(e.Held, ", "))
}

// refuseLoss turns a count into a refusal unless force is set.
func refuseLoss(force bool, change string) func(held []string, err error) error {
	return func(held []string, err error) error {
		if err != nil || force || len(held) == 0 {
			return err
		}
		return &LossError{Change: change, Held: held}
	}
}

// RowsHeld lists the local tables whose rows dropping the relation would destroy: a plain
// table or partition itself (a DEFAULT partition with its parent's holding partitions), or
// a partitioned table's local leaf partitions, as "schema.name (N rows)". Foreign partitions are never counted: their rows live on the
// shard, and the provider never drops them.
func RowsHeld(ctx context.Context, q Querier, schema, name string) ([]string, error) {
	tables, err := localLeafTables(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	// A DEFAULT partition's rows include its parent's holding partitions' (see holding.go),
	// which go with it.
	hs, err := holdingsOfDefault(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		tables = append(tables, leafTable{schema: h.Schema, name: h.Name, quoted: h.Table})
	}
	var held []string
	for _, tn := range tables {
		var count int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM ONLY "+tn.quoted).Scan(&count); err != nil {
			return nil, err
		}
		if count > 0 {
			held = append(held, fmt.Sprintf("%s.%s (%d rows)", tn.schema, tn.name, count))
		}
	}
	return held, nil
}

// ValuesHeld counts the non-null values of columns, through every partition of a
// partitioned table (shards included: a dropped column's values become unreachable), as
// `column "c" (N values)`.
func ValuesHeld(ctx context.Context, q Querier, schema, name string, columns []string) ([]string, error) {
	var held []string
	for _, c := range columns {
		var n int64
		err := q.QueryRowContext(ctx, "SELECT count("+Ident(c)+") FROM "+QualifiedIdent(schema, name)).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("counting the values of column %q of %s.%s: %w", c, schema, name, err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("column %q (%d values)", c, n))
		}
	}
	return held, nil
}
