package postgres

import (
	"database/sql"
	"reflect"
	"testing"
)

// DiffShard: what widens a shard goes before the parent's change, what narrows it after; a
// rename moves the foreign table's column_name mapping; columns dropped from the parent go
// only when the drop was counted and allowed; identity columns keep their NOT NULL.
func TestDiffShard(t *testing.T) {
	parent := []Column{
		{Name: "id", Type: "bigint", NotNull: true, Default: "nextval('t_id_seq'::regclass)"},
		{Name: "location", Type: "text", NotNull: true},
		{Name: "body", Type: "text"},
		{Name: "lang", Type: "text", NotNull: true, Default: "'en'::text"},
		{Name: "likes", Type: "bigint", Default: "0"},
	}
	shard := []Column{
		{Name: "id", Type: "bigint", NotNull: true, Identity: true},
		{Name: "location", Type: "text", NotNull: true},
		{Name: "text", Type: "text"},
		{Name: "likes", Type: "integer", Default: "1"},
		{Name: "gone", Type: "text", NotNull: true},
		{Name: "dropped", Type: "text"},
	}
	names := map[string]string{"body": "text"}
	d := diffShard("public", "t", parent, names, shard, map[string]bool{"dropped": true})
	want := ShardDiff{
		Before: []string{
			`ALTER TABLE "public"."t" RENAME COLUMN "text" TO "body"`,
			`ALTER TABLE "public"."t" ADD COLUMN "lang" text NOT NULL DEFAULT ('en'::text)`,
			`ALTER TABLE "public"."t" ALTER COLUMN "likes" TYPE bigint`,
			`ALTER TABLE "public"."t" ALTER COLUMN "likes" SET DEFAULT (0)`,
			`ALTER TABLE "public"."t" ALTER COLUMN "gone" DROP NOT NULL`,
		},
		After: []string{`ALTER TABLE "public"."t" DROP COLUMN "dropped"`},
		Unmap: []string{"body"},
	}
	if !reflect.DeepEqual(d.Before, want.Before) || !reflect.DeepEqual(d.After, want.After) || !reflect.DeepEqual(d.Unmap, want.Unmap) {
		t.Fatalf("diff\n got %#v\nwant %#v", d, want)
	}
	if len(d.Drift) != 6 {
		t.Fatalf("drift %q", d.Drift)
	}
	// A shard that matches has nothing to do.
	same := diffShard("public", "t", parent[:2], nil, shard[:2], nil)
	if !same.Empty() || len(same.Drift) != 0 {
		t.Fatalf("a matching shard: %+v", same)
	}
	// A mapping left behind by a rename whose base transaction failed is drift, and goes.
	stale := diffShard("public", "t", []Column{{Name: "body", Type: "text"}}, map[string]string{"body": "text"}, []Column{{Name: "body", Type: "text"}}, nil)
	if !reflect.DeepEqual(stale.Unmap, []string{"body"}) || len(stale.Drift) != 1 || len(stale.Before) != 0 {
		t.Fatalf("stale mapping: %+v", stale)
	}
	// NOT NULL set on the parent narrows the shard: after the parent's change.
	nn := diffShard("public", "t", []Column{{Name: "body", Type: "text", NotNull: true}}, nil, []Column{{Name: "body", Type: "text"}}, nil)
	if len(nn.Before) != 0 || !reflect.DeepEqual(nn.After, []string{`ALTER TABLE "public"."t" ALTER COLUMN "body" SET NOT NULL`}) {
		t.Fatalf("NOT NULL: %+v", nn)
	}
}

// A column change with hostile names reaches a managed shard verbatim, through dblink, and
// nothing else runs on either side.
func TestPropagateColumnsHostileNames(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE canary (id int)`)
	mustExec(t, shard, `CREATE TABLE canary (id int)`)
	const oldName, newName, added = `a"; DROP TABLE canary; --`, `b'); DROP TABLE canary; --`, `c$$; DROP TABLE canary; $$`
	mustExec(t, shard, `CREATE TABLE eu (k text, `+Ident(oldName)+` text, CONSTRAINT eu_bound CHECK (k IN ('eu')))`)
	mustExec(t, base, `CREATE TABLE t (k text, `+Ident(oldName)+` text) PARTITION BY LIST (k)`)
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF t FOR VALUES IN ('eu') SERVER europe OPTIONS (table_name 'eu')`)
	to := []Column{{Name: "k", Type: "text"}, {Name: newName, Type: "text", RenamedFrom: oldName}, {Name: added, Type: "text", Default: "'x'"}}
	if _, err := AlterPartitionedTable(ctx, base, "public", "t", Table{Schema: "public", Name: "t", Columns: to}, false); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*sql.DB{base, shard} {
		if !canaryAlive(t, db) {
			t.Fatal("a canary was dropped")
		}
	}
	var cols string
	if err := shard.QueryRow(`SELECT string_agg(attname, '|' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'eu'::regclass AND attnum > 0 AND NOT attisdropped`).Scan(&cols); err != nil || cols != "k|"+newName+"|"+added {
		t.Fatalf("shard columns %q, %v", cols, err)
	}
	mustExec(t, base, `INSERT INTO t VALUES ('eu', 'v')`)
	expectCount(t, shard, 1, `SELECT count(*) FROM eu WHERE `+Ident(added)+` = 'x'`)
}
