package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Extension is an installed extension.
type Extension struct {
	Name    string
	Schema  string
	Version string
}

// ReadExtension reads an installed extension; ErrNotFound when it is not installed.
func ReadExtension(ctx context.Context, q Querier, name string) (*Extension, error) {
	e := &Extension{Name: name}
	err := q.QueryRowContext(ctx, `
SELECT n.nspname, e.extversion
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = $1`, name).Scan(&e.Schema, &e.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading extension %q: %w", name, err)
	}
	return e, nil
}

// CreateExtension installs the extension; empty Schema and Version take the defaults.
func CreateExtension(ctx context.Context, q Querier, e Extension) error {
	logStep(ctx, "create extension", e.Name)
	stmt := "CREATE EXTENSION " + Ident(e.Name)
	if e.Schema != "" {
		stmt += " SCHEMA " + Ident(e.Schema)
	}
	if e.Version != "" {
		stmt += " VERSION " + Literal(e.Version)
	}
	_, err := q.ExecContext(ctx, stmt)
	return err
}

// UpdateExtension moves the extension to another schema and/or version, in one transaction.
func UpdateExtension(ctx context.Context, db *sql.DB, from, to Extension) error {
	logStep(ctx, "alter extension", to.Name)
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if to.Version != "" && to.Version != from.Version {
			if _, err := tx.ExecContext(ctx, "ALTER EXTENSION "+Ident(to.Name)+" UPDATE TO "+Literal(to.Version)); err != nil {
				return err
			}
		}
		if to.Schema != "" && to.Schema != from.Schema {
			if _, err := tx.ExecContext(ctx, "ALTER EXTENSION "+Ident(to.Name)+" SET SCHEMA "+Ident(to.Schema)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropExtension drops the extension. It does not cascade: objects that depend on it,
// such as foreign servers, make it fail.
func DropExtension(ctx context.Context, q Querier, name string) error {
	logStep(ctx, "drop extension", name)
	_, err := q.ExecContext(ctx, "DROP EXTENSION IF EXISTS "+Ident(name))
	return err
}
