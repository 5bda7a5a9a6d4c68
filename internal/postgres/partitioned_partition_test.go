package postgres

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// A partitioned table that is itself a partition (LIST by region, then RANGE by month):
// created with or without columns, its rows counted through every level before a drop,
// detached and attached again.
func TestPartitionedPartition(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	cols := []Column{{Name: "location", Type: "text", NotNull: true}, {Name: "created_at", Type: "timestamptz", NotNull: true}, {Name: "body", Type: "text"}}
	top := Table{Schema: "public", Name: "tweets", Columns: cols, PartitionBy: &PartitionKey{Strategy: "list", Key: []string{"location"}}}
	if err := CreateTable(ctx, db, top); err != nil {
		t.Fatal(err)
	}
	byMonth := &PartitionKey{Strategy: "range", Key: []string{"created_at"}}
	europe := Partition{Schema: "public", Name: "tweets_europe", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"europe"}}}
	if err := CreatePartitionedPartition(ctx, db, Table{Schema: "public", Name: "tweets_europe", PartitionBy: byMonth}, europe); err != nil {
		t.Fatal(err)
	}
	// Given columns are checked by name against the parent's before anything is created.
	asia := Partition{Schema: "public", Name: "tweets_asia", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"asia"}}}
	wrong := []Column{cols[0], cols[1], {Name: "text", Type: "text"}}
	err := CreatePartitionedPartition(ctx, db, Table{Schema: "public", Name: "tweets_asia", Columns: wrong, PartitionBy: byMonth}, asia)
	var mismatch *PartitionColumnsError
	if !errors.As(err, &mismatch) || !reflect.DeepEqual(mismatch.Missing, []string{"body"}) || !reflect.DeepEqual(mismatch.Extra, []string{"text"}) {
		t.Fatalf("columns not the parent's: got %v", err)
	}
	// The parent's columns in another order are fine (attached by name).
	reordered := []Column{cols[2], cols[0], cols[1]}
	if err := CreatePartitionedPartition(ctx, db, Table{Schema: "public", Name: "tweets_asia", Columns: reordered, PartitionBy: byMonth}, asia); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tweets_europe", "tweets_asia"} {
		p, err := ReadPartition(ctx, db, "public", name)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := ReadTable(ctx, db, "public", name)
		if err != nil {
			t.Fatal(err)
		}
		if p.ParentName != "tweets" || p.Bound.Kind() != "list" || tb.Kind != RelPartitioned || !tb.IsPartition || !reflect.DeepEqual(tb.PartitionBy, byMonth) {
			t.Fatalf("%s reads as %+v, %+v", name, p, tb)
		}
	}
	mustExec(t, db, `CREATE TABLE tweets_europe_2024 PARTITION OF tweets_europe FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`)
	mustExec(t, db, `INSERT INTO tweets VALUES ('europe', '2024-03-01', 'hi')`)

	// The leaf's rows are counted from every level above it, and refuse a drop of either.
	for _, name := range []string{"tweets", "tweets_europe"} {
		held, err := RowsHeld(ctx, db, "public", name)
		if err != nil || !reflect.DeepEqual(held, []string{"public.tweets_europe_2024 (1 rows)"}) {
			t.Fatalf("RowsHeld(%s) = %v, %v", name, held, err)
		}
		var loss *LossError
		if err := DropTable(ctx, db, "public", name, false); !errors.As(err, &loss) {
			t.Fatalf("DropTable(%s) without force: %v", name, err)
		}
	}

	// Detached with its rows, and attached again with its bound.
	if err := DetachPartition(ctx, db, "public", "tweets_europe"); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadPartition(ctx, db, "public", "tweets_europe"); err != nil || p.ParentName != "" {
		t.Fatalf("after detach: %+v, %v", p, err)
	}
	if err := UpdateLocalPartition(ctx, db, "public", "tweets_europe", europe); err != nil {
		t.Fatal(err)
	}
	var leaf string
	if err := db.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM tweets WHERE location = 'europe'`).Scan(&leaf); err != nil || leaf != "tweets_europe_2024" {
		t.Fatalf("row is in %q (%v)", leaf, err)
	}
	if err := DropTable(ctx, db, "public", "tweets_europe", true); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTable(ctx, db, "public", "tweets_europe_2024"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("leaf after a forced drop of its parent: %v", err)
	}
}

func TestPartitionColumnsErrorSaysWhat(t *testing.T) {
	err := SameColumnNames(&Table{Schema: "public", Name: "t", Columns: []Column{{Name: "a"}, {Name: "b"}}}, []Column{{Name: "a"}, {Name: "c"}})
	if err == nil || !strings.Contains(err.Error(), "public.t") || !strings.Contains(err.Error(), "b are missing") || !strings.Contains(err.Error(), "c are not the parent's") {
		t.Fatalf("got %v", err)
	}
	if err := SameColumnNames(&Table{Columns: []Column{{Name: "a"}}}, []Column{{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
}
