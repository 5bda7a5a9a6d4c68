package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// testRole creates a role of the test's own (roles are cluster-wide, so the name ends in a
// random number) and drops it, with its privileges, at cleanup.
func testRole(t *testing.T, db *sql.DB, prefix string, login bool) string {
	t.Helper()
	role := fmt.Sprintf("%s%06d", prefix, rand.IntN(1000000))
	stmt := "CREATE ROLE " + Ident(role)
	if login {
		stmt += " LOGIN PASSWORD " + Literal(role)
	}
	mustExec(t, db, stmt)
	t.Cleanup(func() {
		mustExec(t, db, "DROP OWNED BY "+Ident(role))
		mustExec(t, db, "DROP ROLE "+Ident(role))
	})
	return role
}

// openAs opens the test's database as a login role made by testRole.
func openAs(t *testing.T, db *sql.DB, role string) *sql.DB {
	t.Helper()
	var name string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	base := postgrestest.Shared(t).Base
	conn, err := pq.NewConnector(fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=disable",
		base.Host, base.Port, pq.QuoteLiteral(name), pq.QuoteLiteral(role), pq.QuoteLiteral(role)))
	if err != nil {
		t.Fatal(err)
	}
	as := sql.OpenDB(conn)
	t.Cleanup(func() { as.Close() })
	return as
}

// asRole runs stmt as role, in a transaction of its own.
func asRole(db *sql.DB, role, stmt string) error {
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, sql.ErrTxDone
	if _, err := tx.Exec("SET LOCAL ROLE " + Ident(role)); err != nil {
		return err
	}
	if _, err := tx.Exec(stmt); err != nil {
		return err
	}
	return tx.Commit()
}

func hasUsage(t *testing.T, db *sql.DB, role, server, privilege string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(`SELECT has_server_privilege($1::name, $2::text, $3)`, role, server, privilege).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestServerGrantLifecycle(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	const server = `eu"rope/1`
	mustExec(t, db, `CREATE SERVER `+Ident(server)+` FOREIGN DATA WRAPPER postgres_fdw`)
	role := testRole(t, db, `app."x`, false)

	if _, err := ReadServerGrant(ctx, db, server, role); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before the grant: %v, want ErrNotFound", err)
	}
	// The owner holds USAGE by default, with no ACL written yet.
	if g, err := ReadServerGrant(ctx, db, server, "postgres"); err != nil || g.WithGrantOption {
		t.Fatalf("owner's default USAGE read back %+v, %v", g, err)
	}

	for _, option := range []bool{false, true, false} {
		want := ServerGrant{Server: server, Role: role, WithGrantOption: option}
		if err := GrantServerUsage(ctx, db, want); err != nil {
			t.Fatal(err)
		}
		got, err := ReadServerGrant(ctx, db, server, role)
		want.Grantors = []string{"postgres"}
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Fatalf("read back %+v, %v; want %+v", got, err, want)
		}
		if !hasUsage(t, db, role, server, "USAGE") || hasUsage(t, db, role, server, "USAGE WITH GRANT OPTION") != option {
			t.Fatalf("has_server_privilege disagrees with the grant %+v", want)
		}
	}

	if err := RevokeServerUsage(ctx, db, server, role); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadServerGrant(ctx, db, server, role); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the revoke: %v, want ErrNotFound", err)
	}
	if hasUsage(t, db, role, server, "USAGE") {
		t.Fatal("the role still has USAGE after the revoke")
	}
	// Nothing left to revoke: a second revoke, a missing server and a missing role all succeed.
	for _, target := range [][2]string{{server, role}, {"no such server", role}, {server, "no such role"}} {
		if err := RevokeServerUsage(ctx, db, target[0], target[1]); err != nil {
			t.Errorf("revoke %q from %q: %v", target[0], target[1], err)
		}
	}
	mustExec(t, db, `DROP SERVER `+Ident(server))
	if _, err := ReadServerGrant(ctx, db, server, "postgres"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("server dropped: %v, want ErrNotFound", err)
	}
}

func TestServerGrantPublic(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw`)
	other := testRole(t, db, "other_", false)

	g := ServerGrant{Server: "s", Role: PublicRole}
	if err := GrantServerUsage(ctx, db, g); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadServerGrant(ctx, db, "s", PublicRole); err != nil || got.WithGrantOption {
		t.Fatalf("read back %+v, %v", got, err)
	}
	// A role of that name is not the pseudo-role, and a role holding nothing of its own has it.
	if _, err := ReadServerGrant(ctx, db, "s", other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("role %q: %v, want ErrNotFound", other, err)
	}
	if !hasUsage(t, db, other, "s", "USAGE") {
		t.Fatal("a role without a grant of its own should have USAGE through PUBLIC")
	}
	if err := RevokeServerUsage(ctx, db, "s", PublicRole); err != nil {
		t.Fatal(err)
	}
	if hasUsage(t, db, other, "s", "USAGE") {
		t.Fatal("USAGE through PUBLIC remains after the revoke")
	}
}

// A role that may not grant USAGE gets only a warning from PostgreSQL; the provider makes it
// an insufficient_privilege error.
func TestServerGrantNotAllowed(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw`)
	// Cleanups run last first: DROP OWNED BY the granter revokes, with CASCADE, what it passed on.
	app := testRole(t, db, "app_", false)
	granter := testRole(t, db, "granter_", true)
	mustExec(t, db, `GRANT USAGE ON FOREIGN SERVER s TO `+Ident(granter))
	as := openAs(t, db, granter)

	for _, option := range []bool{false, true} {
		err := GrantServerUsage(ctx, as, ServerGrant{Server: "s", Role: app, WithGrantOption: option})
		if pqErr := pq.As(err, "42501"); pqErr == nil || !strings.Contains(pqErr.Message, `no privileges were granted for "s"`) {
			t.Fatalf("grant with option %v as a role without the grant option: %v", option, err)
		}
	}
	if hasUsage(t, db, app, "s", "USAGE") {
		t.Fatal("the role got USAGE")
	}

	// With the grant option, it may; but the option it got from another grantor stays.
	mustExec(t, db, `GRANT USAGE ON FOREIGN SERVER s TO `+Ident(granter)+` WITH GRANT OPTION`)
	mustExec(t, db, `GRANT USAGE ON FOREIGN SERVER s TO `+Ident(app)+` WITH GRANT OPTION`)
	err := GrantServerUsage(ctx, as, ServerGrant{Server: "s", Role: app})
	if pqErr := pq.As(err, "42501"); pqErr == nil || !strings.Contains(pqErr.Message, fmt.Sprintf(`granted by %q, "postgres"`, granter)) {
		t.Fatalf("revoking another grantor's grant option: %v", err)
	}
	if err := GrantServerUsage(ctx, as, ServerGrant{Server: "s", Role: app, WithGrantOption: true}); err != nil {
		t.Fatal(err)
	}
	g, err := ReadServerGrant(ctx, db, "s", app)
	if err != nil || !reflect.DeepEqual(g.Grantors, []string{granter, "postgres"}) {
		t.Fatalf("grantors %+v, %v", g, err)
	}
}

// Revoking USAGE, or only its grant option, from a role that passed it on fails without
// CASCADE, naming the roles it passed it to; nothing is revoked.
func TestServerGrantDependents(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw`)
	bob := testRole(t, db, `bob"`, false)
	app := testRole(t, db, "app_", false)
	if err := GrantServerUsage(ctx, db, ServerGrant{Server: "s", Role: app, WithGrantOption: true}); err != nil {
		t.Fatal(err)
	}
	if err := asRole(db, app, `GRANT USAGE ON FOREIGN SERVER s TO `+Ident(bob)); err != nil {
		t.Fatal(err)
	}

	for name, err := range map[string]error{
		"revoke":              RevokeServerUsage(ctx, db, "s", app),
		"revoke grant option": GrantServerUsage(ctx, db, ServerGrant{Server: "s", Role: app}),
	} {
		pqErr := pq.As(err, "2BP01")
		if pqErr == nil || !strings.Contains(pqErr.Detail, fmt.Sprintf(`on to %q`, bob)) || pqErr.Hint != "" {
			t.Errorf("%s: %#v", name, err)
		}
	}
	if !hasUsage(t, db, app, "s", "USAGE WITH GRANT OPTION") || !hasUsage(t, db, bob, "s", "USAGE") {
		t.Fatal("a failed revoke changed privileges")
	}
	if err := asRole(db, app, `REVOKE USAGE ON FOREIGN SERVER s FROM `+Ident(bob)); err != nil {
		t.Fatal(err)
	}
	if err := RevokeServerUsage(ctx, db, "s", app); err != nil {
		t.Fatal(err)
	}
}

// Names holding quotes, semicolons and comments are granted and revoked verbatim, and
// nothing else in the catalog changes.
func TestServerGrantHostileNames(t *testing.T) {
	db := freshDB(t, "postgres_fdw")
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE canary (id int)`)
	const server = `s"; DROP TABLE canary; --`
	mustExec(t, db, `CREATE SERVER `+Ident(server)+` FOREIGN DATA WRAPPER postgres_fdw`)
	role := testRole(t, db, `r'"); DROP TABLE canary; --`, false)
	before := catalogSnapshot(t, db)

	if err := GrantServerUsage(ctx, db, ServerGrant{Server: server, Role: role, WithGrantOption: true}); err != nil {
		t.Fatal(err)
	}
	if !hasUsage(t, db, role, server, "USAGE WITH GRANT OPTION") {
		t.Fatal("the grant did not reach the role")
	}
	if err := GrantServerUsage(ctx, db, ServerGrant{Server: server, Role: role}); err != nil {
		t.Fatal(err)
	}
	if err := RevokeServerUsage(ctx, db, server, role); err != nil {
		t.Fatal(err)
	}
	if hasUsage(t, db, role, server, "USAGE") {
		t.Fatal("the revoke did not reach the role")
	}
	if after := catalogSnapshot(t, db); after != before {
		t.Fatalf("the catalog changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
