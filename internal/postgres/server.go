package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// Server is a foreign server. Options holds every option, host/port/dbname included.
type Server struct {
	Name    string
	Wrapper string
	Owner   string
	Options map[string]string
}

// ReadServer reads a foreign server from the catalog; ErrNotFound when it does not exist.
func ReadServer(ctx context.Context, q Querier, name string) (*Server, error) {
	s := &Server{Name: name}
	var opts []string
	err := q.QueryRowContext(ctx, `
SELECT w.fdwname, pg_get_userbyid(s.srvowner), coalesce(s.srvoptions, '{}')
FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE s.srvname = $1`, name).Scan(&s.Wrapper, &s.Owner, pq.Array(&opts))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading foreign server %q: %w", name, err)
	}
	s.Options = parseOptionArray(opts)
	return s, nil
}

// CreateServer creates the server (and sets its owner when one is given) in one transaction.
func CreateServer(ctx context.Context, db *sql.DB, s Server) error {
	logStep(ctx, "create server", s.Name)
	stmt := "CREATE SERVER " + Ident(s.Name) + " FOREIGN DATA WRAPPER " + Ident(s.Wrapper) + CreateOptionsClause(s.Options)
	if s.Owner == "" {
		// One statement is its own transaction: no BEGIN and COMMIT round trips.
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return ExplainLockTimeout(ctx, db, err)
		}
		return nil
	}
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "ALTER SERVER "+Ident(s.Name)+" OWNER TO "+Ident(s.Owner))
		return err
	})
}

// UpdateServer changes options and owner in place, in one transaction.
func UpdateServer(ctx context.Context, db *sql.DB, from, to Server) error {
	logStep(ctx, "alter server", to.Name)
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if clause := alterOptionsClause(diffOptions(from.Options, to.Options)); clause != "" {
			if _, err := tx.ExecContext(ctx, "ALTER SERVER "+Ident(to.Name)+" "+clause); err != nil {
				return err
			}
		}
		if to.Owner != "" && to.Owner != from.Owner {
			if _, err := tx.ExecContext(ctx, "ALTER SERVER "+Ident(to.Name)+" OWNER TO "+Ident(to.Owner)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropServer drops the server. It does not cascade: objects that still use the server
// (user mappings, foreign tables) make it fail rather than vanish with it.
func DropServer(ctx context.Context, q Querier, name string) error {
	logStep(ctx, "drop server", name)
	_, err := q.ExecContext(ctx, "DROP SERVER IF EXISTS "+Ident(name))
	return err
}
