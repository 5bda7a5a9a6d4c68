package postgres

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lib/pq"
)

func TestServerLifecycle(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE ROLE "other.owner"`)
	t.Cleanup(func() { mustExec(t, db, `DROP ROLE IF EXISTS "other.owner"`) })

	s := Server{Name: `eu"rope`, Wrapper: "postgres_fdw", Options: map[string]string{
		"host": "10.0.0.1", "port": "5432", "dbname": "tweets",
		"application_name": `a=b'c\d`, "fetch_size": "100",
	}}
	if err := CreateServer(ctx, db, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadServer(ctx, db, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Options, s.Options) || got.Wrapper != "postgres_fdw" || got.Owner != "postgres" {
		t.Fatalf("read back %+v, want options %v", got, s.Options)
	}

	to := s
	to.Owner = "other.owner"
	to.Options = map[string]string{"host": "10.0.0.2", "dbname": "tweets", "use_remote_estimate": "true", "application_name": `a=b'c\d`}
	if err := UpdateServer(ctx, db, *got, to); err != nil {
		t.Fatal(err)
	}
	got, err = ReadServer(ctx, db, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Options, to.Options) || got.Owner != "other.owner" {
		t.Fatalf("after update %+v, want %v owned by other.owner", got, to.Options)
	}

	if err := DropServer(ctx, db, s.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadServer(ctx, db, s.Name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after drop: %v", err)
	}
}

func TestServerCreateIsAtomic(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	err := CreateServer(ctx, db, Server{Name: "half", Wrapper: "postgres_fdw", Owner: "no_such_role"})
	if err == nil {
		t.Fatal("expected an error for a missing owner role")
	}
	if _, err := ReadServer(ctx, db, "half"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("server left behind after a failed create: %v", err)
	}
}

// TestServerOptionKeysMatchPostgres checks ServerOptionKeys (PostgreSQL 13 to 17) against the
// real postgres_fdw. Up to PostgreSQL 15 the server lists the options it accepts in the hint of
// an unknown option's error: each must be in ServerOptionKeys. From 16 on the hint only
// suggests the closest one, so each key of ServerOptionKeys must be accepted instead (17 is
// the newest in the union, 16 lacks only sslnegotiation). Either way, the options that belong
// to a user mapping or that postgres_fdw sets itself are refused.
func TestServerOptionKeysMatchPostgres(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	var version int
	if err := db.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	// refused reports whether postgres_fdw refuses key as a server option (a bad value is
	// another error: the key itself was accepted).
	refused := func(key string) bool {
		_, err := db.ExecContext(ctx, `CREATE SERVER probe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (`+Ident(key)+` 'x')`)
		if err == nil {
			mustExec(t, db, `DROP SERVER probe`)
		}
		pqErr := pq.As(err)
		return pqErr != nil && pqErr.Code == "HV00D" && strings.Contains(pqErr.Message, `invalid option "`+key+`"`)
	}
	ours := ServerOptionKeys()
	_, err := db.ExecContext(ctx, `CREATE SERVER probe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (no_such_option 'x')`)
	pqErr := pq.As(err)
	if pqErr == nil || pqErr.Code != "HV00D" {
		t.Fatalf("expected postgres_fdw to refuse no_such_option, got %v", err)
	}
	if listed, ok := strings.CutPrefix(pqErr.Hint, "Valid options in this context are: "); ok {
		valid := strings.Split(listed, ", ")
		for _, k := range valid {
			if !slices.Contains(ours, k) {
				t.Errorf("postgres_fdw accepts server option %q, which ServerOptionKeys lacks", k)
			}
		}
		if len(valid) < 30 {
			t.Fatalf("suspiciously few options from the server: %v", valid)
		}
	} else {
		if version < 160000 {
			t.Fatalf("PostgreSQL %d does not list the valid options in its hint: %q", version, pqErr.Hint)
		}
		for _, k := range ours {
			if refused(k) && (k != "sslnegotiation" || version >= 170000) {
				t.Errorf("ServerOptionKeys has %q, which postgres_fdw of PostgreSQL %d refuses", k, version)
			}
		}
	}
	for _, k := range []string{"user", "password", "client_encoding", "fallback_application_name", "replication"} {
		if slices.Contains(ours, k) || !refused(k) {
			t.Errorf("%q should not be a server option", k)
		}
	}
}
