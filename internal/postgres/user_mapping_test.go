package postgres

import (
	"errors"
	"reflect"
	"testing"
)

func TestUserMappingLifecycle(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE SERVER s1 FOREIGN DATA WRAPPER postgres_fdw`)
	role := `we.ird"role`
	mustExec(t, db, `CREATE ROLE `+Ident(role))
	t.Cleanup(func() {
		mustExec(t, db, `DROP OWNED BY `+Ident(role))
		mustExec(t, db, `DROP ROLE `+Ident(role))
	})

	for _, r := range []string{role, PublicRole} {
		m := UserMapping{Server: "s1", Role: r, Options: map[string]string{"user": "app", "password": `p'w=d\x`}}
		if err := CreateUserMapping(ctx, db, m); err != nil {
			t.Fatal(err)
		}
		got, err := ReadUserMapping(ctx, db, "s1", r)
		if err != nil {
			t.Fatal(err)
		}
		if !got.OptionsVisible || !reflect.DeepEqual(got.Options, m.Options) {
			t.Fatalf("%s: read %+v want %v", r, got, m.Options)
		}
		to := m
		to.Options = map[string]string{"user": "app2"}
		if err := UpdateUserMapping(ctx, db, *got, to); err != nil {
			t.Fatal(err)
		}
		got, _ = ReadUserMapping(ctx, db, "s1", r)
		if !reflect.DeepEqual(got.Options, to.Options) {
			t.Fatalf("%s: after update %v", r, got.Options)
		}
	}
	// The two mappings are distinct: dropping one leaves the other.
	if err := DropUserMapping(ctx, db, "s1", PublicRole); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUserMapping(ctx, db, "s1", PublicRole); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PUBLIC mapping after drop: %v", err)
	}
	if _, err := ReadUserMapping(ctx, db, "s1", role); err != nil {
		t.Fatalf("role mapping should remain: %v", err)
	}
}

// A role that is neither the server owner nor the mapped role cannot see the options.
func TestUserMappingOptionsHidden(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE ROLE hidden_reader`)
	t.Cleanup(func() { mustExec(t, db, `DROP ROLE IF EXISTS hidden_reader`) })
	mustExec(t, db, `CREATE SERVER s2 FOREIGN DATA WRAPPER postgres_fdw`)
	mustExec(t, db, `CREATE USER MAPPING FOR postgres SERVER s2 OPTIONS (user 'x', password 'secret')`)
	t.Cleanup(func() { mustExec(t, db, `DROP SERVER s2 CASCADE`) })

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, `SET ROLE hidden_reader`)
	defer mustExec(t, conn, `RESET ROLE`)
	got, err := ReadUserMapping(ctx, conn, "s2", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	if got.OptionsVisible || len(got.Options) != 0 {
		t.Fatalf("options should be hidden from hidden_reader: %+v", got)
	}
}
