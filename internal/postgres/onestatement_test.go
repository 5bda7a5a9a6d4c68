package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// escapeStringAttack ends a column default early for a checker that reads E'\” as a
// string holding a backslash followed by a doubled quote: PostgreSQL reads a string
// holding one quote, so ")); DROP TABLE canary;" is SQL and the rest a comment.
const escapeStringAttack = `E'\'' || 1)); DROP TABLE canary; -- '`

// poolOn opens the provider's own pool (the one every resource uses) on database name of
// the shared base cluster.
func poolOn(t testing.TB, name string) *sql.DB {
	t.Helper()
	c := postgrestest.Shared(t).Base
	pools := NewPools()
	t.Cleanup(func() { pools.Close() })
	db, err := pools.DB(ConnConfig{Host: c.Host, Port: c.Port, Database: name, User: c.User, Password: c.Password, SSLMode: "disable"})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func currentDatabase(t testing.TB, db *sql.DB) string {
	t.Helper()
	var name string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func canaryAlive(t testing.TB, db *sql.DB) bool {
	t.Helper()
	var exists bool
	if err := db.QueryRow(`SELECT to_regclass('public.canary') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// The provider's pool refuses a second statement in one call, with or without arguments,
// on Exec and Query, inside and outside a transaction; a plain lib/pq pool runs it (so the
// test would see the difference).
func TestPoolRunsOneStatementPerCall(t *testing.T) {
	raw := freshDB(t)
	ctx := t.Context()
	mustExec(t, raw, `CREATE TABLE canary (id int)`)
	db := poolOn(t, currentDatabase(t, raw))

	two := `CREATE TABLE fresh (id int); DROP TABLE canary`
	if _, err := db.ExecContext(ctx, two); err == nil || !strings.Contains(err.Error(), "multiple commands") {
		t.Fatalf("Exec of two statements: %v", err)
	}
	if rows, err := db.QueryContext(ctx, `SELECT 1; DROP TABLE canary`); err == nil {
		rows.Close()
		t.Fatal("Query of two statements ran")
	}
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, two)
		return err
	})
	if err == nil {
		t.Fatal("two statements ran in a transaction")
	}
	if !canaryAlive(t, raw) {
		t.Fatal("the canary was dropped through the provider's pool")
	}
	// Single statements of every kind still work: DDL, DML with rows, catalog reads.
	mustExec(t, db, `CREATE TABLE single (id int)`)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM single`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_class WHERE relname = $1`, "single").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
	// The same text through lib/pq's simple protocol does run twice.
	if _, err := raw.ExecContext(ctx, two); err != nil {
		t.Fatal(err)
	}
	if canaryAlive(t, raw) {
		t.Fatal("the simple protocol did not run the second statement: this test cannot tell the difference")
	}
}

// The escape-string attack is refused by the checker and, were the checker wrong, by the
// pool: the canary survives either way.
func TestEscapeStringDefaultNeverRuns(t *testing.T) {
	if err := CheckExpression(escapeStringAttack); err == nil {
		t.Fatalf("CheckExpression accepted %q", escapeStringAttack)
	}
	raw := freshDB(t)
	mustExec(t, raw, `CREATE TABLE canary (id int)`)
	db := poolOn(t, currentDatabase(t, raw))
	stmt := "CREATE TABLE t (" + columnSQL(Column{Name: "c", Type: "text", Default: escapeStringAttack}) + ")"
	if _, err := db.Exec(stmt); err == nil {
		t.Fatalf("%s ran", stmt)
	}
	if !canaryAlive(t, raw) {
		t.Fatal("the canary was dropped")
	}
}

func TestCheckOneStatement(t *testing.T) {
	db := poolOn(t, currentDatabase(t, freshDB(t)))
	ctx := t.Context()
	for _, ok := range []string{`CREATE TABLE x (id int)`, `ALTER TABLE nowhere ADD CONSTRAINT c CHECK (id > 0)`, `DO 'BEGIN NULL; END'`} {
		if err := CheckOneStatement(ctx, db, ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{`CREATE TABLE x (id int); DROP TABLE y`, `CREATE TABLE x (id int DEFAULT (E'\'' || 1)); DROP TABLE y; -- ')`, `CREATE TABLE x (`} {
		if err := CheckOneStatement(ctx, db, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Nothing ran: parsing creates nothing.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_class WHERE relname = 'x'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("parsing created %d relations named x (%v)", n, err)
	}
}

// FuzzExpressionDDL drives arbitrary text that CheckExpression (or CheckType) accepts into
// a column default and a partition key expression (or a column type), and runs the DDL through
// lib/pq's simple protocol, which would run a second statement: the checker alone must
// keep the text inside its clause. Whatever happens, the canary table survives and the
// catalog holds nothing but the one table.
func FuzzExpressionDDL(f *testing.F) {
	for _, seed := range []string{
		"0", "'europe'", "now()", escapeStringAttack,
		`E'\\'`, `U&'\0061' UESCAPE '!'`, `'a' /* c */`, `$é$ ); DROP TABLE canary; $é$`, `$$x$$`,
		`'it''s'`, `"col""x"`, `(1)); DROP TABLE canary; --`, `1 -- x`, `'--'`, `1)), (2`, `B'101'`, `X'1F'`,
		"'a'\n'b'", "lower('x')", "1e'x'", "varchar(20)", "int; DROP TABLE canary", "text[]", "double precision",
	} {
		f.Add(seed)
	}
	db := freshDB(f)
	mustExec(f, db, `CREATE TABLE canary (id int)`)
	f.Fuzz(func(t *testing.T, expr string) {
		if !utf8.ValidString(expr) {
			return
		}
		var stmts []string
		if CheckExpression(expr) == nil {
			stmts = append(stmts, "CREATE TABLE fz ("+columnSQL(Column{Name: "c", Type: "text", Default: expr})+")",
				"CREATE TABLE fz (c text) PARTITION BY LIST (("+expr+"))")
		}
		if CheckType(expr) == nil {
			stmts = append(stmts, "CREATE TABLE fz ("+columnSQL(Column{Name: "c", Type: expr})+")")
		}
		before := catalogSnapshot(t, db)
		for _, stmt := range stmts {
			if _, err := db.Exec(stmt); err == nil {
				var cols int
				if err := db.QueryRow(`SELECT count(*) FROM pg_attribute WHERE attrelid = 'fz'::regclass AND attnum > 0`).Scan(&cols); err != nil || cols != 1 {
					t.Fatalf("%s made %d columns (%v)", stmt, cols, err)
				}
				mustExec(t, db, `DROP TABLE fz`)
			}
			if !canaryAlive(t, db) {
				t.Fatalf("%s dropped the canary", stmt)
			}
			if after := catalogSnapshot(t, db); after != before {
				t.Fatalf("%s changed the catalog:\nbefore:\n%s\nafter:\n%s", stmt, before, after)
			}
		}
	})
}

// A statement that fails while its context is canceled says it was interrupted, whatever
// the driver made of it (lib/pq reports a canceled statement as a bad connection when its
// cancel goroutine wins the race), and database/sql still sees the bad connection.
func TestInterruptedKeepsBothCauses(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"bad connection after Ctrl-C", canceled, driver.ErrBadConn, true},
		{"server error after Ctrl-C", canceled, errors.New("pq: canceling statement due to user request"), true},
		{"bad connection, context live", t.Context(), driver.ErrBadConn, false},
		{"no error", canceled, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := interrupted(c.ctx, c.err)
			if got := errors.Is(err, context.Canceled); got != c.want {
				t.Fatalf("errors.Is(%v, context.Canceled) = %v, want %v", err, got, c.want)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("the driver's error %v is not in %v", c.err, err)
			}
		})
	}
}
