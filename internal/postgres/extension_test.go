package postgres

import (
	"errors"
	"testing"
)

func TestExtensionLifecycle(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE SCHEMA "ext schema"`)
	if err := CreateExtension(ctx, db, Extension{Name: "postgres_fdw", Version: "1.0"}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadExtension(ctx, db, "postgres_fdw")
	if err != nil || got.Version != "1.0" || got.Schema != "public" {
		t.Fatalf("read %+v, %v", got, err)
	}
	if err := UpdateExtension(ctx, db, *got, Extension{Name: "postgres_fdw", Version: "1.1", Schema: "ext schema"}); err != nil {
		t.Fatal(err)
	}
	got, err = ReadExtension(ctx, db, "postgres_fdw")
	if err != nil || got.Version != "1.1" || got.Schema != "ext schema" {
		t.Fatalf("after update %+v, %v", got, err)
	}
	if err := DropExtension(ctx, db, "postgres_fdw"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadExtension(ctx, db, "postgres_fdw"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after drop: %v", err)
	}
}
