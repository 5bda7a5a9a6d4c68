package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// UserMapping maps a local role (or PUBLIC) to credentials on a foreign server. Options
// holds every option, user and password included.
type UserMapping struct {
	Server  string
	Role    string // a role name, or PublicRole
	Options map[string]string
	// OptionsVisible is false when the connecting role may not read the mapping's options
	// (it is neither the server owner, the mapped role, nor a superuser).
	OptionsVisible bool
}

// ReadUserMapping reads a user mapping; ErrNotFound when it does not exist.
func ReadUserMapping(ctx context.Context, q Querier, server, role string) (*UserMapping, error) {
	m := &UserMapping{Server: server, Role: role}
	var opts []string
	// The visibility test repeats pg_user_mappings' own rule, so that a mapping with no
	// options can be told apart from one whose options are hidden.
	err := q.QueryRowContext(ctx, `
SELECT coalesce(m.umoptions, '{}'),
       (m.umuser <> 0 AND m.usename = current_user
          AND (pg_has_role(s.srvowner, 'USAGE') OR has_server_privilege(s.oid, 'USAGE')))
       OR (m.umuser = 0 AND pg_has_role(s.srvowner, 'USAGE'))
       OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
FROM pg_user_mappings m JOIN pg_foreign_server s ON s.oid = m.srvid
WHERE m.srvname = $1
  AND CASE WHEN $3 THEN m.umuser = 0 ELSE m.umuser <> 0 AND m.usename = $2 END`,
		server, role, role == PublicRole).Scan(pq.Array(&opts), &m.OptionsVisible)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading user mapping for %q on server %q: %w", role, server, err)
	}
	m.Options = parseOptionArray(opts)
	return m, nil
}

// MappingNeedsPassword reports whether postgres_fdw will refuse to connect through a
// mapping for role that holds no password ("password is required"): it does unless the
// role is a superuser or the mapping sets password_required to false (passwordRequired is
// that option's value, "" when unset; the server reads it as a boolean, as postgres_fdw
// does). PUBLIC counts as no superuser, since the roles it serves need not be, and so does
// a role that does not exist.
func MappingNeedsPassword(ctx context.Context, q Querier, role, passwordRequired string) (bool, error) {
	var needs bool
	err := q.QueryRowContext(ctx, `
SELECT coalesce(nullif($3, '')::boolean, true)
   AND ($2 OR NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = $1), false))`,
		role, role == PublicRole, passwordRequired).Scan(&needs)
	if err != nil {
		return false, fmt.Errorf("checking whether role %q needs a password in its user mapping: %w", role, err)
	}
	return needs, nil
}

func userMappingTarget(server, role string) string {
	return "USER MAPPING FOR " + roleIdent(role) + " SERVER " + Ident(server)
}

// CreateUserMapping creates the mapping. See quietSecrets for how its password is kept
// out of the server log.
func CreateUserMapping(ctx context.Context, db *sql.DB, m UserMapping) error {
	logStep(ctx, "create user mapping", m.Describe())
	return quietSecrets(ctx, db, m, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE "+userMappingTarget(m.Server, m.Role)+CreateOptionsClause(m.Options))
		return err
	})
}

// UpdateUserMapping changes the mapping's options in place.
func UpdateUserMapping(ctx context.Context, db *sql.DB, from, to UserMapping) error {
	logStep(ctx, "alter user mapping", to.Describe())
	clause := alterOptionsClause(diffOptions(from.Options, to.Options))
	if clause == "" {
		return nil
	}
	return quietSecrets(ctx, db, to, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "ALTER "+userMappingTarget(to.Server, to.Role)+" "+clause)
		return err
	})
}

// quietSecrets runs a statement that carries a password so that the server does not log
// it: the usual reasons for it to fail (no such server or role) are checked first, and a
// superuser connection also turns statement logging off for the transaction. (A
// non-superuser's statements are kept out of the log by
// ALTER ROLE ... SET log_min_error_statement = 'panic', which a superuser can set.)
func quietSecrets(ctx context.Context, db *sql.DB, m UserMapping, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		// One round trip: the checks, and for a superuser SET LOCAL of both settings
		// (set_config with is_local true is SET LOCAL).
		var serverOK, roleOK bool
		var quiet sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = $1),
		  $3 OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2),
		  CASE WHEN current_setting('is_superuser') = 'on'
		       THEN set_config('log_statement', 'none', true) || set_config('log_min_error_statement', 'panic', true) END`,
			m.Server, m.Role, m.Role == PublicRole).Scan(&serverOK, &roleOK, &quiet)
		switch {
		case err != nil:
			return err
		case !serverOK:
			return &pq.Error{Code: "42704", Message: fmt.Sprintf("server %q does not exist", m.Server)}
		case !roleOK:
			return &pq.Error{Code: "42704", Message: fmt.Sprintf("role %q does not exist", m.Role)}
		}
		return fn(tx)
	})
}

// DropUserMapping drops the mapping if it exists.
func DropUserMapping(ctx context.Context, q Querier, server, role string) error {
	logStep(ctx, "drop user mapping", server+"/"+role)
	_, err := q.ExecContext(ctx, "DROP USER MAPPING IF EXISTS FOR "+roleIdent(role)+" SERVER "+Ident(server))
	return err
}

// Describe names the mapping for messages: `user mapping for "app" on server "europe"`.
func (m UserMapping) Describe() string {
	role := fmt.Sprintf("%q", m.Role)
	if m.Role == PublicRole {
		role = "PUBLIC"
	}
	return fmt.Sprintf("user mapping for %s on server %q", role, m.Server)
}
