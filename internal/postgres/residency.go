package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The residency check counts, for every direct partition of a parent, the rows it holds and
// those its bound does not admit, and the rows of DEFAULT that another partition's bound
// admits. PostgreSQL keeps both at zero for local tables, but not for a shard: its rows are
// written there directly, and only the shard's own CHECK (which anyone may drop) holds them
// to the bound. The counts are exact, so they are full scans.

// Residency is one partition's part of a residency check.
type Residency struct {
	PartitionInfo
	Rows int64
	// RowsOutsideBound counts the rows whose key the bound does not admit (always 0 for
	// DEFAULT, whose stray rows are ResidencyCheck.DefaultRowsClaimed).
	RowsOutsideBound int64
}

// ResidencyCheck is the outcome of CheckResidency.
type ResidencyCheck struct {
	Partitions []Residency // ordered by schema and name
	// DefaultRowsClaimed counts the rows of the DEFAULT partition that another partition's
	// bound admits.
	DefaultRowsClaimed int64
}

// OK reports whether every row is in the partition its key belongs to.
func (c *ResidencyCheck) OK() bool {
	for _, p := range c.Partitions {
		if p.RowsOutsideBound != 0 {
			return false
		}
	}
	return c.DefaultRowsClaimed == 0
}

// CheckResidency runs the residency check of the partitioned table schema.name in one READ
// ONLY, REPEATABLE READ transaction: the base's counts are one snapshot, and each shard,
// reached through postgres_fdw, is one snapshot of its own. It scans every partition once
// (a foreign one on its shard, where postgres_fdw sends the count) and DEFAULT once. It
// returns ErrNotFound when no relation has the name.
func CheckResidency(ctx context.Context, db *sql.DB, schema, name string) (*ResidencyCheck, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, err
	}
	check, err := checkResidency(ctx, tx, schema, name)
	_ = tx.Rollback()
	if err != nil {
		// A partition locked by DDL elsewhere fails the count at lock_timeout: name the holders.
		return nil, ExplainLockTimeout(ctx, db, err)
	}
	return check, nil
}

func checkResidency(ctx context.Context, tx *sql.Tx, schema, name string) (*ResidencyCheck, error) {
	oid, kind, _, err := relation(ctx, tx, schema, name)
	if err != nil {
		return nil, err
	}
	if kind != RelPartitioned {
		return nil, fmt.Errorf("%s.%s is not a partitioned table", schema, name)
	}
	key, err := partitionKeyOf(ctx, tx, schema, name)
	if err != nil {
		return nil, err
	}
	parts, err := residencyTargets(ctx, tx, oid)
	if err != nil {
		return nil, err
	}
	out := &ResidencyCheck{}
	var claims []string
	var def *residencyTarget
	for i := range parts {
		p := &parts[i]
		if p.bound.Default {
			def = p
			continue
		}
		if p.check, err = residencyCheck(p.bound, KeySQL(key.Key), oid); err != nil {
			return nil, fmt.Errorf("partition %s: %w", p.Qualified(), err)
		}
		claims = append(claims, "("+p.check+")")
		if err := countResidency(ctx, tx, p); err != nil {
			return nil, err
		}
	}
	if def != nil {
		if out.DefaultRowsClaimed, err = countDefault(ctx, tx, def, claims); err != nil {
			return nil, err
		}
	}
	for _, p := range parts {
		out.Partitions = append(out.Partitions, p.Residency)
	}
	return out, nil
}

// residencyTarget is a partition to count, with what the count needs.
type residencyTarget struct {
	Residency
	bound Bound
	check string
}

// from is the FROM clause that reads the partition's own rows: ONLY for a table or a
// foreign table, and the whole tree of a partition that is partitioned itself.
func (p residencyTarget) from() string {
	if p.Kind == RelPartitioned {
		return QualifiedIdent(p.Schema, p.Name)
	}
	return "ONLY " + QualifiedIdent(p.Schema, p.Name)
}

func residencyTargets(ctx context.Context, q Querier, parent uint32) ([]residencyTarget, error) {
	infos, err := partitionsOf(ctx, q, parent)
	if err != nil {
		return nil, err
	}
	out := make([]residencyTarget, len(infos))
	for i, info := range infos {
		out[i].PartitionInfo = info
		if out[i].bound, err = parseBound(info.Bound); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// residencyCheck renders the condition that holds exactly for the keys the bound admits
// (NULL counts as not admitted): the bound's CHECK form; for RANGE, also a key with no
// NULL, which PostgreSQL routes to DEFAULT even where a row comparison would pass; for
// HASH, satisfies_hash_partition, PostgreSQL's own partition constraint, over the parent.
func residencyCheck(b Bound, key []string, parent uint32) (string, error) {
	switch b.Kind() {
	case "hash":
		return fmt.Sprintf("satisfies_hash_partition(%d::oid, %d, %d, %s)", parent, b.Modulus, b.Remainder, strings.Join(key, ", ")), nil
	case "default":
		return "", fmt.Errorf("a DEFAULT bound has no condition of its own")
	}
	check := b.CheckSQL(key)
	if check == "" {
		return "", fmt.Errorf("the bound %s does not match the partition key (%s)", b.SQL(), strings.Join(key, ", "))
	}
	if b.Kind() == "range" {
		notNull := make([]string, len(key))
		for i, k := range key {
			notNull[i] = "(" + k + ") IS NOT NULL"
		}
		check = strings.Join(notNull, " AND ") + " AND (" + check + ")"
	}
	return check, nil
}

// countResidency counts the partition's rows and those outside its bound. For a foreign
// partition postgres_fdw sends the whole count to the shard, so one row comes back; except
// for a RANGE over several columns, whose row comparison it does not send (the keys are read
// and compared on the base), and for HASH: satisfies_hash_partition names the parent by its OID on the base, which must not
// reach a shard, so unless the partition is a local table the keys are read through a
// subquery (OFFSET 0 keeps it one, which postgres_fdw cannot fold the count into) and
// hashed on the base.
func countResidency(ctx context.Context, tx *sql.Tx, p *residencyTarget) error {
	from := p.from()
	if p.Kind != RelTable && p.bound.Kind() == "hash" {
		from = "(SELECT * FROM " + from + " OFFSET 0) AS " + Ident(p.Name)
	}
	err := tx.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE "+outside(p.check)+") FROM "+from).
		Scan(&p.Rows, &p.RowsOutsideBound)
	if err != nil {
		return fmt.Errorf("counting the rows of %s%s: %w", p.Qualified(), p.on(), err)
	}
	return nil
}

// countDefault counts DEFAULT's rows and those that one of the conditions claims (is true
// for), in one scan.
func countDefault(ctx context.Context, tx *sql.Tx, p *residencyTarget, claims []string) (int64, error) {
	claimed := "false"
	if len(claims) > 0 {
		claimed = strings.Join(claims, " OR ")
	}
	var n int64
	err := tx.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE "+claimed+") FROM "+p.from()).Scan(&p.Rows, &n)
	if err != nil {
		return 0, fmt.Errorf("counting the rows of the DEFAULT partition %s%s: %w", p.Qualified(), p.on(), err)
	}
	return n, nil
}

// Qualified is the quoted schema.name.
func (r Residency) Qualified() string { return QualifiedIdent(r.Schema, r.Name) }

func (r Residency) on() string {
	if r.Foreign {
		return " on server " + Ident(r.Server)
	}
	return ""
}
