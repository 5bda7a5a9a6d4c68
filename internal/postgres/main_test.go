package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func TestMain(m *testing.M) {
	if os.Getenv(moveChildEnv) != "" {
		os.Exit(moveChild()) // a kill-and-resume test's child process (move_kill_test.go)
	}
	if os.Getenv(spanChildEnv) != "" {
		os.Exit(spanChild()) // a killed change's child process (span_kill_test.go)
	}
	os.Exit(postgrestest.RunMain(m))
}

// freshDB creates a database of the test's own on the shared base cluster, with the
// extensions given, and returns a pool on it.
func freshDB(t testing.TB, extensions ...string) *sql.DB {
	t.Helper()
	env := postgrestest.Shared(t)
	name := uniqueName(t)
	ctx := t.Context()
	if err := env.Base.CreateDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	db, err := env.Base.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, e := range extensions {
		if _, err := db.ExecContext(ctx, "CREATE EXTENSION "+Ident(e)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func uniqueName(t testing.TB) string {
	base := strings.ToLower(t.Name())
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, base)
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("%s_%06d", base, rand.IntN(1000000))
}

// mustExec runs stmt, failing the test on error. Cleanups call it too, after t.Context()
// is canceled, so it does not use that context.
func mustExec(t testing.TB, q Querier, stmt string, args ...any) {
	t.Helper()
	if _, err := q.ExecContext(context.Background(), stmt, args...); err != nil { //nolint:usetesting // cleanups call it after t.Context() is canceled
		t.Fatalf("%s: %v", stmt, err)
	}
}
