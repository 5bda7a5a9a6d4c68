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

// TestServerOptionKeysMatchPostgres asks the real postgres_fdw which server options it
// accepts and checks that every one of them is in ServerOptionKeys (which also holds the
// options of newer PostgreSQL versions).
func TestServerOptionKeysMatchPostgres(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	_, err := db.ExecContext(t.Context(), `CREATE SERVER probe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (no_such_option 'x')`)
	pqErr := pq.As(err)
	if pqErr == nil || !strings.HasPrefix(pqErr.Hint, "Valid options in this context are: ") {
		t.Fatalf("expected postgres_fdw to list its valid options, got %v", err)
	}
	valid := strings.Split(strings.TrimPrefix(pqErr.Hint, "Valid options in this context are: "), ", ")
	ours := ServerOptionKeys()
	for _, k := range valid {
		if !slices.Contains(ours, k) {
			t.Errorf("postgres_fdw accepts server option %q, which ServerOptionKeys lacks", k)
		}
	}
	for _, k := range []string{"user", "password", "client_encoding", "fallback_application_name", "replication"} {
		if slices.Contains(valid, k) || slices.Contains(ours, k) {
			t.Errorf("%q should not be a server option", k)
		}
	}
	if len(valid) < 30 {
		t.Fatalf("suspiciously few options from the server: %v", valid)
	}
}
