package postgres

import (
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// Attaching a shard table that holds rows (a stack destroyed and applied again) sets the
// parent's sequences past their ids, whatever draws them (serial, a nextval default), in the
// attaching transaction; a sequence already past them, a column with no values and the ids
// of the shard's own identity range are left alone. The shard-side preview says the same before anything
// changes.
func TestAttachSetsSequencesPastAdoptedIds(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, shard, `CREATE TABLE eu (id bigint, n int, other bigint, location text)`)
	mustExec(t, shard, `INSERT INTO eu VALUES (41, NULL, 7, 'europe'), (12, NULL, 900, 'europe'), (1000000005, NULL, NULL, 'europe')`)
	mustExec(t, base, `CREATE SEQUENCE other_seq START 1000`)
	mustExec(t, base, `CREATE TABLE p (id bigserial, n serial, other bigint DEFAULT nextval('other_seq'), location text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE p_default PARTITION OF p DEFAULT`)
	parent, err := ReadTable(ctx, base, "public", "p")
	if err != nil {
		t.Fatal(err)
	}
	// Ids of the shard's own identity range (remote_identity) are not the parent sequence's.
	identity := &Identity{Column: "id", Start: 1000000000, Increment: 1}
	preview, err := ShardSequencesToAdvance(ctx, base, "public", "p", "europe", "public", "eu", identity)
	want := []SequenceAdvance{{Column: "id", Sequence: "public.p_id_seq", Past: 41}}
	if err != nil || !reflect.DeepEqual(preview, want) {
		t.Fatalf("preview = %+v, %v; want %+v", preview, err, want)
	}
	p := Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "p", Bound: Bound{In: []string{"europe"}}, Foreign: true,
		Server: "europe", Options: map[string]string{"schema_name": "public", "table_name": "eu"}, ShardIdentity: identity}
	if err := inTx(ctx, base, func(tx *sql.Tx) error {
		_, err := attachNewPartition(ctx, tx, p, parent, false, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := queryString(t, base, `INSERT INTO p (location) VALUES ('mars') RETURNING id || ',' || n || ',' || other`)
	if got != "42,1,1000" {
		t.Errorf("next ids through the parent = %s, want 42,1,1000 (id past the shard's 41 below its identity range; n holds no values; other_seq already past 900)", got)
	}
	if preview, err := ShardSequencesToAdvance(ctx, base, "public", "p", "europe", "public", "eu", identity); err != nil || len(preview) != 0 {
		t.Errorf("after the attach nothing is behind: %+v, %v", preview, err)
	}
	// Without a known identity range every id counts.
	if preview, err := ShardSequencesToAdvance(ctx, base, "public", "p", "europe", "public", "eu", nil); err != nil || len(preview) != 1 || preview[0].Past != 1000000005 {
		t.Errorf("preview without the identity = %+v, %v", preview, err)
	}
}

// A partition attached again after a detach (Reattach) sets the sequences past its ids too,
// and SequencesToAdvance previews it; a fresh sequence that has handed out nothing is set
// past a largest id of 1.
func TestReattachSetsSequencesPast(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE ev (id serial, region text) PARTITION BY LIST (region)`)
	mustExec(t, db, `CREATE TABLE ev_asia (id int NOT NULL DEFAULT 0, region text)`)
	mustExec(t, db, `INSERT INTO ev_asia VALUES (1, 'asia')`)
	p := Partition{Schema: "public", Name: "ev_asia", ParentSchema: "public", ParentName: "ev", Bound: Bound{In: []string{"asia"}}}
	preview, err := SequencesToAdvance(ctx, db, p)
	if err != nil || len(preview) != 1 || preview[0].Past != 1 || preview[0].Sequence != "public.ev_id_seq" {
		t.Fatalf("preview = %+v, %v", preview, err)
	}
	if err := inTx(ctx, db, func(tx *sql.Tx) error { return reattach(ctx, tx, p, nil) }); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, `INSERT INTO ev (region) VALUES ('asia') RETURNING id`); got != "2" {
		t.Errorf("next id = %s, want 2", got)
	}
}

// A repair that cannot set a shard's bound CHECK again, because rows written on the shard
// out of band are outside the (unchanged) bound, says so with their count, and does not pass
// for the server's check_violation, whose hint speaks of a new bound.
func TestRepairShardNamesRowsOutsideBound(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	parent := Table{Schema: "public", Name: "tweets", Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "location", Type: "text"}},
		PartitionBy: &PartitionKey{Strategy: "list", Key: []string{"location"}}}
	if err := CreateTable(ctx, base, parent); err != nil {
		t.Fatal(err)
	}
	p := Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "tweets", Bound: Bound{In: []string{"europe"}}, Foreign: true,
		Server: "europe", Options: map[string]string{"schema_name": "public", "table_name": "eu"}}
	remote := ShardTableFor(p, &parent, nil)
	if err := createShardTable(ctx, base, remote); err != nil {
		t.Fatal(err)
	}
	mustExec(t, base, createPartitionSQL(p))
	mustExec(t, shard, `ALTER TABLE eu DROP CONSTRAINT eu_bound`)
	mustExec(t, shard, `INSERT INTO eu VALUES (1, 'usa'), (2, 'usa'), (3, 'europe'), (4, NULL)`)
	if n, err := ShardRowsRefused(ctx, base, "europe", "public", "eu", remote.Check); err != nil || n != 2 {
		t.Fatalf("rows refused = %d, %v; want 2 (NULL passes a CHECK)", n, err)
	}
	err := RepairShard(ctx, base, "public", "eu", remote)
	var outside *ShardRowsOutsideBoundError
	if !errors.As(err, &outside) || outside.Rows != 2 || !strings.Contains(err.Error(), `holds 2 rows outside the partition's bound`) {
		t.Fatalf("repair error = %v", err)
	}
	if pq.As(err) != nil {
		t.Errorf("the error unwraps to the server's check_violation: %v", err)
	}
	if got := queryString(t, shard, `SELECT count(*) FROM pg_constraint WHERE conname = 'eu_bound'`); got != "0" {
		t.Errorf("the failed repair left %s CHECK constraints", got)
	}
}
