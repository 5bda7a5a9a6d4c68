package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ShardTable is what the shard says of a shard table the provider manages.
type ShardTable struct {
	Exists  bool
	Columns []Column
	// Check is the definition of the bound CHECK constraint as the shard prints it
	// (pg_get_constraintdef), "" when there is none of that name.
	Check    string
	Identity *Identity // the identity column, nil for none
}

// InspectShard reads a shard table's columns, its bound CHECK constraint checkName and its
// identity column, through the foreign server: one dblink connection, three queries.
func InspectShard(ctx context.Context, db *sql.DB, server, schema, name, checkName string) (*ShardTable, error) {
	var st ShardTable
	err := withRemote(ctx, db, server, func(r *Remote) error {
		var err error
		if st.Columns, st.Exists, err = r.Columns(ctx, schema, name); err != nil || !st.Exists {
			return err
		}
		rel := Literal(QualifiedIdent(schema, name))
		check := `SELECT coalesce((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(` + rel +
			`) AND conname = ` + Literal(checkName) + `), '')`
		if err := r.session().QueryRowContext(ctx, `SELECT c FROM `+r.dblink+`($1, $2) AS t(c text)`, r.name, check).Scan(&st.Check); err != nil {
			return fmt.Errorf("reading the shard table's CHECK through server %q: %w", server, err)
		}
		identity := `SELECT a.attname::text, s.seqstart, s.seqincrement FROM pg_attribute a ` +
			`JOIN pg_sequence s ON s.seqrelid = pg_get_serial_sequence(` + rel + `, a.attname)::regclass ` +
			`WHERE a.attrelid = to_regclass(` + rel + `) AND a.attidentity <> '' AND NOT a.attisdropped`
		var id Identity
		err = r.session().QueryRowContext(ctx, `SELECT * FROM `+r.dblink+`($1, $2) AS t(c text, s bigint, i bigint)`, r.name, identity).Scan(&id.Column, &id.Start, &id.Increment)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("reading the shard table's identity column through server %q: %w", server, err)
		}
		st.Identity = &id
		return nil
	})
	return &st, err
}

// Drift lists how the shard table differs from what the provider made it: missing,
// missing columns or columns of another type than the parent's, a bound CHECK that is gone
// or is not the one recorded when the provider last set it (recorded "" when unknown).
func (st *ShardTable) Drift(parent []Column, checkName, recorded string) []string {
	if !st.Exists {
		return []string{"the shard table is missing"}
	}
	var drift []string
	if err := CheckRemoteColumns(parent, st.Columns); err != nil {
		drift = append(drift, strings.TrimPrefix(err.Error(), "the shard table does not match the parent: "))
	}
	switch {
	case st.Check == "" && recorded != "":
		drift = append(drift, fmt.Sprintf("the bound CHECK constraint %q is missing", checkName))
	case recorded != "" && st.Check != recorded:
		drift = append(drift, fmt.Sprintf("the bound CHECK constraint %q was changed to %s", checkName, st.Check))
	}
	return drift
}

// RepairShard brings a drifted shard table back: the parent's missing columns are added
// (types and defaults as the base server prints them) and the bound CHECK is set again, in
// one remote transaction. Columns of another type are not changed (that would rewrite the
// shard's values): it fails naming them.
func RepairShard(ctx context.Context, db *sql.DB, t RemoteTable) error {
	return withRemote(ctx, db, t.Server, func(r *Remote) error {
		cols, exists, err := r.Columns(ctx, t.Schema, t.Name)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("the shard table %s.%s is missing on server %q; the provider never re-creates a shard table that held rows: "+
				"restore it, or remove the partition from the configuration", t.Schema, t.Name, t.Server)
		}
		have := map[string]Column{}
		for _, c := range cols {
			have[c.Name] = c
		}
		var stmts []string
		for _, c := range t.Columns {
			if _, ok := have[c.Name]; !ok {
				stmts = append(stmts, "ALTER TABLE "+QualifiedIdent(t.Schema, t.Name)+" ADD COLUMN "+remoteColumnSQL(c, nil))
			}
		}
		for _, c := range t.Columns {
			if o, ok := have[c.Name]; ok && !SameType(o.Type, remoteType(c.Type)) {
				return fmt.Errorf("column %q of shard table %s.%s is %s but %s in the parent; the provider does not change a shard column's type: alter it on the shard", c.Name, t.Schema, t.Name, o.Type, remoteType(c.Type))
			}
		}
		stmts = append(stmts, SetRemoteCheckSQL(t.Schema, t.Name, t.CheckName, t.Check))
		return r.Exec(ctx, stmts...)
	})
}

// ShardCheck reads the definition of a shard table's bound CHECK ("" for none), to record
// what the provider set.
func ShardCheck(ctx context.Context, db *sql.DB, server, schema, name, checkName string) (string, error) {
	st, err := InspectShard(ctx, db, server, schema, name, checkName)
	if err != nil {
		return "", err
	}
	return st.Check, nil
}
