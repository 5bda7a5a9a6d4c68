package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Configured values that are SQL (column types, defaults, partition bounds) are compared
// with the catalog in the form the server itself prints them, by one mechanism: the server
// is given the configured value in the place it would take it (a column of a temporary
// table, a partition of a temporary partitioned table), and prints it back with the same
// functions the catalog reads use (format_type, pg_get_expr). Two spellings mean the same
// exactly when the server prints them the same. Nothing is kept: the temporary objects are
// made in a transaction, or under a savepoint, that is rolled back.

// CanonicalColumns returns cols with each Type and Default as the server prints a column
// declared with them (a serial as serial without a default, as ReadTable reads it). Names,
// NOT NULL and RenamedFrom are kept. A type or default the server refuses is an error
// naming the column.
func CanonicalColumns(ctx context.Context, db *sql.DB, cols []Column) ([]Column, error) {
	var out []Column
	err := rolledBack(ctx, db, func(tx *sql.Tx) error {
		var err error
		out, err = canonicalColumns(ctx, tx, cols)
		return err
	})
	return out, err
}

// canonicalColumnsIn is CanonicalColumns inside an open transaction (under a savepoint).
func canonicalColumnsIn(ctx context.Context, tx *sql.Tx, cols []Column) ([]Column, error) {
	var out []Column
	err := underSavepoint(ctx, tx, func() error {
		var err error
		out, err = canonicalColumns(ctx, tx, cols)
		return err
	})
	return out, err
}

func canonicalColumns(ctx context.Context, tx *sql.Tx, cols []Column) ([]Column, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	// The columns keep their names: a generation expression refers to other columns.
	defs := make([]string, len(cols))
	for i, c := range cols {
		probe := Column{Name: c.Name, Type: c.Type, Default: c.Default, Generated: c.Generated}
		if err := checkColumn(probe); err != nil {
			return nil, err
		}
		defs[i] = columnSQL(probe)
	}
	probe, err := probeTable(ctx, tx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, probe.create+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return nil, explainCanonical(cols, err)
	}
	var oid uint32
	if err := tx.QueryRowContext(ctx, `SELECT $1::regclass::oid`, probe.name).Scan(&oid); err != nil {
		return nil, err
	}
	read, err := readColumns(ctx, tx, oid)
	if err != nil {
		return nil, err
	}
	out := make([]Column, len(cols))
	for i, c := range cols {
		c.Type, c.Default, c.Generated = read[i].Type, read[i].Default, read[i].Generated
		out[i] = c
	}
	return out, nil
}

// explainCanonical names the column whose type or default the server refused: each is
// tried alone.
func explainCanonical(cols []Column, err error) error {
	if len(cols) == 1 {
		return fmt.Errorf("column %q (type %s%s): %w", cols[0].Name, cols[0].Type, defaultPhrase(cols[0].Default), err)
	}
	return fmt.Errorf("the columns' types or defaults: %w", err)
}

func defaultPhrase(d string) string {
	if d == "" {
		return ""
	}
	return ", default " + d
}

// CanonicalBound returns b as the server prints it for a partition of the partitioned
// table schema.name: a partition of a temporary table with the same columns and partition
// key takes it, and pg_get_expr prints it back.
func CanonicalBound(ctx context.Context, db *sql.DB, schema, name string, b Bound) (Bound, error) {
	var out Bound
	err := rolledBack(ctx, db, func(tx *sql.Tx) error {
		var err error
		out, err = canonicalBound(ctx, tx, schema, name, b)
		return err
	})
	return out, err
}

// canonicalBoundIn is CanonicalBound inside an open transaction (under a savepoint).
func canonicalBoundIn(ctx context.Context, tx *sql.Tx, schema, name string, b Bound) (Bound, error) {
	var out Bound
	err := underSavepoint(ctx, tx, func() error {
		var err error
		out, err = canonicalBound(ctx, tx, schema, name, b)
		return err
	})
	return out, err
}

// SameBound reports whether two bounds of partitions of schema.name are the same bound to
// the server: equal as written, or printed the same once it reads them.
func SameBound(ctx context.Context, db *sql.DB, schema, name string, a, b Bound) (bool, error) {
	if a.Equal(b) {
		return true, nil
	}
	if a.Kind() != b.Kind() {
		return false, nil
	}
	ca, err := CanonicalBound(ctx, db, schema, name, a)
	if err != nil {
		return false, err
	}
	cb, err := CanonicalBound(ctx, db, schema, name, b)
	return err == nil && ca.Equal(cb), err
}

func canonicalBound(ctx context.Context, tx *sql.Tx, schema, name string, b Bound) (Bound, error) {
	if b.Kind() == "default" || b.Kind() == "hash" || b.isNone() {
		return b, nil
	}
	var keydef string
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_partkeydef(format('%I.%I', $1::text, $2::text)::regclass)`, schema, name).Scan(&keydef); err != nil {
		return Bound{}, err
	}
	// The key definition is the base's own print of the parent's key (a server-deparsed
	// catalog value), so it names the parent's columns, which the temporary table copies.
	parent, err := probeTable(ctx, tx)
	if err != nil {
		return Bound{}, err
	}
	part, err := probeTable(ctx, tx)
	if err != nil {
		return Bound{}, err
	}
	if _, err := tx.ExecContext(ctx, parent.create+" (LIKE "+QualifiedIdent(schema, name)+") PARTITION BY "+keydef); err != nil {
		return Bound{}, err
	}
	if _, err := tx.ExecContext(ctx, part.create+" PARTITION OF "+parent.name+" "+b.SQL()); err != nil {
		return Bound{}, fmt.Errorf("the bound %s: %w", b.SQL(), err)
	}
	var printed string
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = $1::regclass`, part.name).Scan(&printed); err != nil {
		return Bound{}, err
	}
	return parseBound(printed)
}

// probe is a throw-away table: the statement that creates it (columns follow) and its name.
type probe struct{ create, name string }

// probeTable names a throw-away table to read a canonical form from: a temporary one where
// the role may create them, else one in a schema it may create in (where the provider makes
// its tables). Made in a transaction or under a savepoint that is rolled back, no other
// session ever sees it; a random name keeps concurrent plans from waiting on each other's
// uncommitted catalog rows.
func probeTable(ctx context.Context, tx *sql.Tx) (probe, error) {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return probe{}, err
	}
	name := "pgshard_canonical_" + hex.EncodeToString(suffix[:])
	var schema sql.NullString
	err := tx.QueryRowContext(ctx, `
SELECT CASE WHEN has_database_privilege(current_database(), 'TEMP') THEN NULL ELSE
  (SELECT nspname FROM pg_namespace WHERE has_schema_privilege(oid, 'CREATE') AND nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
   ORDER BY nspname = current_schema() DESC, nspname LIMIT 1) END`).Scan(&schema)
	if err != nil {
		return probe{}, err
	}
	if !schema.Valid {
		var temp bool
		if err := tx.QueryRowContext(ctx, `SELECT has_database_privilege(current_database(), 'TEMP')`).Scan(&temp); err != nil || !temp {
			return probe{}, errors.Join(err, errors.New("the provider's role may create neither temporary tables nor tables in any schema, which comparing configured SQL with the catalog needs"))
		}
		return probe{create: "CREATE TEMPORARY TABLE " + name, name: "pg_temp." + name}, nil
	}
	q := QualifiedIdent(schema.String, name)
	return probe{create: "CREATE TABLE " + q, name: q}, nil
}

// canonicalKey returns a partition key of the partitioned table schema.name (its strategy
// and key columns or parenthesised expressions) as the server prints it, as ReadTable reads
// keys: a temporary copy of the table's columns is partitioned by it.
func canonicalKey(ctx context.Context, db *sql.DB, schema, name string, key PartitionKey) (*PartitionKey, error) {
	strategy, err := strategySQL(key.Strategy)
	if err != nil {
		return nil, err
	}
	for _, k := range key.Key {
		if IsKeyExpression(k) {
			if err := CheckExpression(k); err != nil {
				return nil, fmt.Errorf("partition key expression %q %w", k, err)
			}
		}
	}
	var out *PartitionKey
	err = rolledBack(ctx, db, func(tx *sql.Tx) error {
		p, err := probeTable(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, p.create+" (LIKE "+QualifiedIdent(schema, name)+") PARTITION BY "+strategy+" ("+strings.Join(KeySQL(key.Key), ", ")+")"); err != nil {
			return err
		}
		var def string
		if err := tx.QueryRowContext(ctx, `SELECT pg_get_partkeydef($1::regclass)`, p.name).Scan(&def); err != nil {
			return err
		}
		out, err = parsePartitionKey(def)
		return err
	})
	return out, err
}

// SameKey reports whether two partition keys of schema.name are the same to the server.
func SameKey(ctx context.Context, db *sql.DB, schema, name string, a, b PartitionKey) (bool, error) {
	if strings.EqualFold(a.Strategy, b.Strategy) && strings.Join(a.Key, "\x00") == strings.Join(b.Key, "\x00") {
		return true, nil
	}
	ca, err := canonicalKey(ctx, db, schema, name, a)
	if err != nil {
		return false, err
	}
	cb, err := canonicalKey(ctx, db, schema, name, b)
	if err != nil {
		return false, err
	}
	return ca.Strategy == cb.Strategy && strings.Join(ca.Key, "\x00") == strings.Join(cb.Key, "\x00"), nil
}

// rolledBack runs fn in a transaction that is always rolled back.
func rolledBack(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// underSavepoint runs fn inside tx and rolls back what it did, keeping tx usable.
func underSavepoint(ctx context.Context, tx *sql.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT pgshard_canonical"); err != nil {
		return err
	}
	err := fn()
	if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT pgshard_canonical"); rbErr != nil && err == nil {
		err = rbErr
	}
	if _, relErr := tx.ExecContext(ctx, "RELEASE SAVEPOINT pgshard_canonical"); relErr != nil && err == nil {
		err = relErr
	}
	return err
}
