package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// ServerGrant is USAGE on a foreign server held by a role (or PUBLIC).
type ServerGrant struct {
	Server          string
	Role            string // a role name, or PublicRole
	WithGrantOption bool
	// Grantors are the roles whose grants the role holds: PostgreSQL keeps one grant per
	// grantor, and a REVOKE removes only the revoking role's own (a superuser's and the
	// owner's are the same). Filled by ReadServerGrant.
	Grantors []string
}

// ReadServerGrant reads the role's USAGE on the server from the server's ACL (a NULL ACL
// is the default: the owner's alone). ErrNotFound when the server or the privilege is gone.
func ReadServerGrant(ctx context.Context, q Querier, server, role string) (*ServerGrant, error) {
	g := &ServerGrant{Server: server, Role: role}
	var n int
	err := q.QueryRowContext(ctx, `
SELECT count(*), coalesce(bool_or(a.is_grantable), false),
       coalesce(array_agg(g.rolname::text ORDER BY g.rolname), '{}')
FROM pg_foreign_server s
CROSS JOIN LATERAL aclexplode(coalesce(s.srvacl, acldefault('S', s.srvowner))) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
JOIN pg_roles g ON g.oid = a.grantor
WHERE s.srvname = $1 AND a.privilege_type = 'USAGE'
  AND CASE WHEN $3 THEN a.grantee = 0 ELSE r.rolname = $2 END`,
		server, role, role == PublicRole).Scan(&n, &g.WithGrantOption, pq.Array(&g.Grantors))
	if err != nil {
		return nil, fmt.Errorf("reading USAGE on foreign server %q for %q: %w", server, role, err)
	}
	if n == 0 {
		return nil, ErrNotFound
	}
	return g, nil
}

// GrantServerUsage makes the role hold USAGE on the server, with the grant option exactly
// when g says so, in one transaction; Create and Update both use it. A grant option held
// from before is revoked when g has none (without CASCADE: grants the role passed on make it
// fail, naming them). PostgreSQL only warns when the connecting role may not grant, so the
// result is read back and a grant that did not happen is an error.
func GrantServerUsage(ctx context.Context, db *sql.DB, g ServerGrant) error {
	logStep(ctx, "grant usage on server", g.Describe())
	target := "USAGE ON FOREIGN SERVER " + Ident(g.Server)
	grant := "GRANT " + target + " TO " + roleIdent(g.Role)
	if g.WithGrantOption {
		grant += " WITH GRANT OPTION"
	}
	stmts := []string{grant}
	if !g.WithGrantOption && g.Role != PublicRole { // PUBLIC never holds grant options
		stmts = append(stmts, "REVOKE GRANT OPTION FOR "+target+" FROM "+roleIdent(g.Role))
	}
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockServerACL(ctx, tx, g.Server); err != nil {
			return err
		}
		for _, stmt := range stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return checkGranted(ctx, tx, g)
	})
	return explainDependentGrants(ctx, db, g, err)
}

// checkGranted reads the grant back and turns what PostgreSQL only warned about into errors.
func checkGranted(ctx context.Context, q Querier, want ServerGrant) error {
	got, err := ReadServerGrant(ctx, q, want.Server, want.Role)
	switch {
	case errors.Is(err, ErrNotFound):
		return &pq.Error{Code: "42501", Message: fmt.Sprintf("no privileges were granted for %q: the provider's role neither owns "+
			"foreign server %q nor holds USAGE WITH GRANT OPTION on it", want.Server, want.Server)}
	case err != nil:
		return err
	case want.WithGrantOption && !got.WithGrantOption:
		return &pq.Error{Code: "42501", Message: fmt.Sprintf("the grant option was not granted for %q: the provider's role neither owns "+
			"foreign server %q nor holds USAGE WITH GRANT OPTION on it", want.Server, want.Server)}
	case !want.WithGrantOption && got.WithGrantOption:
		return &pq.Error{Code: "42501", Message: fmt.Sprintf("%s still holds the grant option on foreign server %q from a grant "+
			"the provider's role cannot revoke (it holds USAGE granted by %s)", roleWords(want.Role), want.Server, quoteList(got.Grantors))}
	}
	return nil
}

// RevokeServerUsage revokes the role's USAGE on the server: only that privilege, and only the
// grant the connecting role made (see ServerGrant.Grantors). It does not cascade: when the
// role passed USAGE on to others, it fails naming them. A server or role that no longer
// exists holds no grant, so there is nothing left to revoke.
func RevokeServerUsage(ctx context.Context, db *sql.DB, server, role string) error {
	g := ServerGrant{Server: server, Role: role}
	logStep(ctx, "revoke usage on server", g.Describe())
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockServerACL(ctx, tx, server); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "REVOKE USAGE ON FOREIGN SERVER "+Ident(server)+" FROM "+roleIdent(role))
		return err
	})
	if pq.As(err, "42704") != nil { // undefined_object: the server or the role
		return nil //nolint:nilerr // a server or role that is gone holds no grant: nothing is left to revoke
	}
	return explainDependentGrants(ctx, db, g, err)
}

// lockServerACL serialises the provider's grants and revokes on one server for the rest of
// the transaction: two of them at once (Terraform applies sibling resources in parallel)
// would both rewrite the server's access list, and one would fail with "tuple concurrently
// updated".
func lockServerACL(ctx context.Context, tx *sql.Tx, server string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('pgshard:foreign-server-acl:' || $1, 0))`, server)
	return err
}

// explainDependentGrants names, in the error's detail, the roles to which g.Role passed USAGE
// on, when PostgreSQL refused to revoke without CASCADE ("dependent privileges exist"). Its
// own hint ("Use CASCADE") is dropped: the provider never cascades.
func explainDependentGrants(ctx context.Context, q Querier, g ServerGrant, err error) error {
	pqErr := pq.As(err, "2BP01")
	if pqErr == nil {
		return err
	}
	var grantees []string
	if qerr := q.QueryRowContext(ctx, `
SELECT coalesce(array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END ORDER BY 1), '{}')
FROM pg_foreign_server s CROSS JOIN LATERAL aclexplode(s.srvacl) a
WHERE s.srvname = $1 AND a.privilege_type = 'USAGE' AND a.grantee <> a.grantor
  AND a.grantor = (SELECT oid FROM pg_roles WHERE rolname = $2)`, g.Server, g.Role).Scan(pq.Array(&grantees)); qerr != nil || len(grantees) == 0 {
		return err
	}
	explained := *pqErr
	explained.Detail = fmt.Sprintf("%s passed USAGE on foreign server %q on to %s (it holds it WITH GRANT OPTION); "+
		"those grants must be revoked first, by %s, which made them.", roleWords(g.Role), g.Server, quoteList(grantees), roleWords(g.Role))
	explained.Hint = ""
	return &explained
}

// Describe names the grant for messages: `USAGE on foreign server "europe" for role "app"`.
func (g ServerGrant) Describe() string {
	return fmt.Sprintf("USAGE on foreign server %q for %s", g.Server, roleWords(g.Role))
}

// roleWords is `role "app"`, or PUBLIC.
func roleWords(role string) string {
	if role == PublicRole {
		return "PUBLIC"
	}
	return fmt.Sprintf("role %q", role)
}

// quoteList is `"a", "b"`.
func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}
