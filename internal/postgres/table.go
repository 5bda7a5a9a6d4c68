package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// Column is a table column. Default is an SQL expression ("" for none). A serial column
// reads back with Type serial/bigserial/smallserial and no Default.
type Column struct {
	Name    string
	Type    string
	NotNull bool
	Default string
	// RenamedFrom, on a column of the wanted table, names the column it was called before:
	// an update renames that column (keeping its values) instead of dropping it.
	RenamedFrom string
	// Identity says the column is an identity column (read from a shard table).
	Identity bool
	// Generated is the expression of a GENERATED ALWAYS AS (...) STORED column ("" for an
	// ordinary one); such a column has no Default.
	Generated string
}

// PartitionKey is how a partitioned table is split: strategy list, range or hash, over
// column names or parenthesised expressions.
type PartitionKey struct {
	Strategy string
	Key      []string
}

// Table is a plain or partitioned table.
type Table struct {
	Schema      string
	Name        string
	Columns     []Column
	PartitionBy *PartitionKey // nil for a plain table
	PrimaryKey  []string      // column names; plain tables only
	// Kind is what kind of relation it is.
	Kind RelKind
	// IsPartition says the table is itself a partition of another.
	IsPartition bool
}

// Qualified is the quoted schema.name.
func (t Table) Qualified() string { return QualifiedIdent(t.Schema, t.Name) }

// RelKind is a relation's pg_class.relkind.
type RelKind string

// The relation kinds the provider manages.
const (
	RelTable       RelKind = "r"
	RelPartitioned RelKind = "p"
	RelForeign     RelKind = "f"
)

// String names the kind in words, for messages.
func (k RelKind) String() string {
	switch k {
	case RelTable:
		return "a table"
	case RelPartitioned:
		return "a partitioned table"
	case RelForeign:
		return "a foreign table"
	case "v":
		return "a view"
	case "m":
		return "a materialized view"
	case "S":
		return "a sequence"
	case "i", "I":
		return "an index"
	}
	return "a relation of kind " + string(k)
}

// IsKeyExpression reports whether a partition key element is an expression (written in
// parentheses) rather than a column name.
func IsKeyExpression(k string) bool { return strings.HasPrefix(strings.TrimSpace(k), "(") }

// KeySQL renders the partition key columns/expressions.
func KeySQL(key []string) []string {
	out := make([]string, len(key))
	for i, k := range key {
		if IsKeyExpression(k) {
			out[i] = strings.TrimSpace(k)
		} else {
			out[i] = Ident(k)
		}
	}
	return out
}

func columnSQL(c Column) string {
	s := Ident(c.Name) + " " + c.Type
	if c.NotNull {
		s += " NOT NULL"
	}
	if c.Default != "" {
		s += " DEFAULT (" + c.Default + ")"
	}
	if c.Generated != "" {
		s += " GENERATED ALWAYS AS (" + c.Generated + ") STORED"
	}
	return s
}

// checkColumn says why a column cannot be rendered into DDL. The provider checks the same
// at plan time; this catches values that were not known then.
func checkColumn(c Column) error {
	if err := CheckIdentifier(c.Name); err != nil {
		return fmt.Errorf("column name %q %w", c.Name, err)
	}
	if err := CheckType(c.Type); err != nil {
		return fmt.Errorf("type %q of column %q %w", c.Type, c.Name, err)
	}
	if c.Default != "" {
		if err := CheckExpression(c.Default); err != nil {
			return fmt.Errorf("default %q of column %q %w", c.Default, c.Name, err)
		}
	}
	if c.Generated != "" {
		if err := CheckExpression(c.Generated); err != nil {
			return fmt.Errorf("generation expression %q of column %q %w", c.Generated, c.Name, err)
		}
		if c.Default != "" {
			return fmt.Errorf("column %q has both a default and a generation expression; a generated column takes no default", c.Name)
		}
	}
	return nil
}

// createTableSQL renders CREATE TABLE for t (plain or partitioned), after checking every
// part that is SQL by nature (types, defaults, key expressions, the strategy).
func createTableSQL(t Table) (string, error) {
	defs := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		if err := checkColumn(c); err != nil {
			return "", err
		}
		defs = append(defs, columnSQL(c))
	}
	if len(t.PrimaryKey) > 0 {
		defs = append(defs, "PRIMARY KEY ("+identList(t.PrimaryKey)+")")
	}
	stmt := "CREATE TABLE " + t.Qualified() + " (" + strings.Join(defs, ", ") + ")"
	by, err := partitionBySQL(t.PartitionBy)
	if err != nil {
		return "", err
	}
	return stmt + by, nil
}

// partitionBySQL renders " PARTITION BY ..." for a key ("" for nil), after checking its
// strategy and expressions.
func partitionBySQL(k *PartitionKey) (string, error) {
	if k == nil {
		return "", nil
	}
	strategy, err := strategySQL(k.Strategy)
	if err != nil {
		return "", err
	}
	for _, e := range k.Key {
		if IsKeyExpression(e) {
			if err := CheckExpression(e); err != nil {
				return "", fmt.Errorf("partition key expression %q %w", e, err)
			}
		}
	}
	return " PARTITION BY " + strategy + " (" + strings.Join(KeySQL(k.Key), ", ") + ")", nil
}

func strategySQL(s string) (string, error) {
	switch strings.ToLower(s) {
	case "list", "range", "hash":
		return strings.ToUpper(s), nil
	}
	return "", fmt.Errorf("partition strategy %q is not list, range or hash", s)
}

// identList renders quoted, comma-separated column names.
func identList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Ident(n)
	}
	return strings.Join(out, ", ")
}

// CreateTable creates the table.
func CreateTable(ctx context.Context, q Querier, t Table) error {
	logStep(ctx, "create table", t.Schema+"."+t.Name)
	stmt, err := createTableSQL(t)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, stmt)
	return err
}

// relation finds a relation's oid and kind; ErrNotFound when there is none.
func relation(ctx context.Context, q Querier, schema, name string) (oid uint32, kind RelKind, isPartition bool, err error) {
	err = q.QueryRowContext(ctx, `
SELECT c.oid, c.relkind::text, c.relispartition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&oid, &kind, &isPartition)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, ErrNotFound
	}
	return oid, kind, isPartition, err
}

// ReadTable reads a table's columns, partition key and primary key; ErrNotFound when it
// does not exist.
func ReadTable(ctx context.Context, q Querier, schema, name string) (*Table, error) {
	oid, kind, isPart, err := relation(ctx, q, schema, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("reading table %s.%s: %w", schema, name, err)
	}
	t := &Table{Schema: schema, Name: name, Kind: kind, IsPartition: isPart}
	if t.Columns, err = readColumns(ctx, q, oid); err != nil {
		return nil, fmt.Errorf("reading columns of %s.%s: %w", schema, name, err)
	}
	if kind == RelPartitioned {
		var def string
		if err := q.QueryRowContext(ctx, `SELECT pg_get_partkeydef($1)`, oid).Scan(&def); err != nil {
			return nil, fmt.Errorf("reading partition key of %s.%s: %w", schema, name, err)
		}
		if t.PartitionBy, err = parsePartitionKey(def); err != nil {
			return nil, err
		}
	}
	err = q.QueryRowContext(ctx, `
SELECT coalesce(array_agg(a.attname ORDER BY k.ord), '{}')
FROM pg_constraint con
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
WHERE con.conrelid = $1 AND con.contype = 'p'`, oid).Scan(pq.Array(&t.PrimaryKey))
	if err != nil {
		return nil, fmt.Errorf("reading primary key of %s.%s: %w", schema, name, err)
	}
	return t, nil
}

func readColumns(ctx context.Context, q Querier, oid uint32) ([]Column, error) {
	rows, err := q.QueryContext(ctx, `
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated = 's',
       a.attidentity = '' AND EXISTS (
         SELECT 1 FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
         WHERE dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'a'
           AND dep.classid = 'pg_class'::regclass)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []Column
	for rows.Next() {
		var c Column
		var ownsSequence, generated bool
		if err := rows.Scan(&c.Name, &c.Type, &c.NotNull, &c.Default, &generated, &ownsSequence); err != nil {
			return nil, err
		}
		if generated {
			c.Generated, c.Default = c.Default, ""
		}
		// A serial column is an integer column that owns the sequence its default draws from.
		if ownsSequence && strings.HasPrefix(c.Default, "nextval(") {
			for serial, base := range serialBase {
				if c.Type == base {
					c.Type, c.Default = serial, ""
				}
			}
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// parsePartitionKey reads pg_get_partkeydef output: "LIST (location)", "RANGE (a, lower(b))".
func parsePartitionKey(def string) (*PartitionKey, error) {
	strategy, rest, ok := strings.Cut(strings.TrimSpace(def), " ")
	rest = strings.TrimSpace(rest)
	if !ok || !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return nil, fmt.Errorf("unrecognised partition key %q", def)
	}
	pk := &PartitionKey{Strategy: strings.ToLower(strategy)}
	for _, part := range splitTopLevel(rest[1 : len(rest)-1]) {
		part = strings.TrimSpace(part)
		if name, ok := unquoteIdentifier(part); ok {
			pk.Key = append(pk.Key, name)
		} else {
			pk.Key = append(pk.Key, "("+part+")")
		}
	}
	return pk, nil
}

// splitTopLevel splits on commas outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquoteIdentifier reads a bare or double-quoted identifier as PostgreSQL prints it.
func unquoteIdentifier(s string) (string, bool) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		inner := s[1 : len(s)-1]
		if strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
			return "", false
		}
		return strings.ReplaceAll(inner, `""`, `"`), true
	}
	for i := 0; i < len(s); i++ {
		if !bareIdentifierByte(s[i], i) {
			return "", false
		}
	}
	return s, s != ""
}

// bareIdentifierByte reports whether c, at index i, can be part of an identifier PostgreSQL
// prints without quotes: a lower-case letter, _ or a non-ASCII byte; past the first, a digit
// or $ too.
func bareIdentifierByte(c byte, i int) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 0x80 || i > 0 && (c >= '0' && c <= '9' || c == '$')
}

// ColumnPlan is what an update does to a table's columns.
type ColumnPlan struct {
	Renames [][2]string // old name, new name; run first, as statements of their own
	Adds    []string    // columns added
	Drops   []string    // columns dropped, with their values
	Clauses []string    // ALTER TABLE clauses: ADD, DROP, TYPE, SET/DROP DEFAULT, SET/DROP NOT NULL
}

// Empty reports whether the plan changes nothing.
func (p ColumnPlan) Empty() bool { return len(p.Renames) == 0 && len(p.Clauses) == 0 }

// PlanColumns works out how the columns in from become those in to. Columns match by name,
// or through RenamedFrom when the old name is there and the new one is not; a column of
// from that matches nothing is dropped. Both are in the server's own form (from as
// ReadTable reads it, to through CanonicalColumns), so types and defaults compare exactly.
// A rename whose source is ambiguous is refused: two columns renamed from one, or one
// renamed from a column that also stays under its own name.
func PlanColumns(from, to []Column) (ColumnPlan, error) {
	var plan ColumnPlan
	old := map[string]Column{}
	for _, c := range from {
		old[c.Name] = c
	}
	if err := checkRenames(old, to); err != nil {
		return ColumnPlan{}, err
	}
	for _, c := range to {
		if c.RenamedFrom == "" || c.RenamedFrom == c.Name {
			continue
		}
		o, had := old[c.RenamedFrom]
		if _, taken := old[c.Name]; !had || taken {
			continue // renamed already, or nothing to rename
		}
		plan.Renames = append(plan.Renames, [2]string{c.RenamedFrom, c.Name})
		delete(old, c.RenamedFrom)
		o.Name = c.Name
		old[c.Name] = o
	}
	keep := map[string]bool{}
	for _, c := range to {
		if err := checkColumn(c); err != nil {
			return ColumnPlan{}, err
		}
		keep[c.Name] = true
		o, ok := old[c.Name]
		if !ok {
			plan.Adds = append(plan.Adds, c.Name)
			plan.Clauses = append(plan.Clauses, "ADD COLUMN "+columnSQL(c))
			continue
		}
		col := "ALTER COLUMN " + Ident(c.Name)
		_, serial := serialBase[CanonicalType(c.Type)]
		if o.Type != c.Type {
			if serial {
				return ColumnPlan{}, fmt.Errorf("column %q cannot become %s in place; add a new column instead", c.Name, c.Type)
			}
			plan.Clauses = append(plan.Clauses, col+" TYPE "+c.Type)
		}
		if o.Generated != c.Generated {
			if c.Generated != "" {
				return ColumnPlan{}, fmt.Errorf("column %q cannot become generated, or change its generation expression, in place "+
					"(PostgreSQL 15 cannot ALTER a generation expression): add a new column with the expression instead, and drop this one", c.Name)
			}
			plan.Clauses = append(plan.Clauses, col+" DROP EXPRESSION") // its values stay, as ordinary ones
		}
		if o.Default != c.Default {
			if c.Default == "" {
				if !serial {
					plan.Clauses = append(plan.Clauses, col+" DROP DEFAULT")
				}
			} else {
				plan.Clauses = append(plan.Clauses, col+" SET DEFAULT ("+c.Default+")")
			}
		}
		if o.NotNull != c.NotNull {
			if c.NotNull {
				plan.Clauses = append(plan.Clauses, col+" SET NOT NULL")
			} else if !serial { // serial implies NOT NULL
				plan.Clauses = append(plan.Clauses, col+" DROP NOT NULL")
			}
		}
	}
	for _, c := range from {
		name := c.Name
		for _, r := range plan.Renames {
			if r[0] == name {
				name = r[1]
			}
		}
		if !keep[name] {
			plan.Drops = append(plan.Drops, name)
			plan.Clauses = append(plan.Clauses, "DROP COLUMN "+Ident(name))
		}
	}
	return plan, nil
}

// checkRenames refuses renames whose source is ambiguous.
func checkRenames(old map[string]Column, to []Column) error {
	names := map[string]bool{}
	for _, c := range to {
		names[c.Name] = true
	}
	by := map[string]string{}
	for _, c := range to {
		if c.RenamedFrom == "" || c.RenamedFrom == c.Name {
			continue
		}
		if other, ok := by[c.RenamedFrom]; ok {
			return fmt.Errorf("columns %q and %q are both renamed_from %q: give renamed_from to one of them only", other, c.Name, c.RenamedFrom)
		}
		by[c.RenamedFrom] = c.Name
		_, had := old[c.RenamedFrom]
		_, taken := old[c.Name]
		if had && !taken && names[c.RenamedFrom] {
			return fmt.Errorf("column %q is renamed_from %q, but the configuration also keeps a column %q: rename it (and keep its values in %q) "+
				"or keep it, not both; to add a new column under the old name, apply the rename first", c.Name, c.RenamedFrom, c.RenamedFrom, c.Name)
		}
	}
	return nil
}

// alterColumnsSQL returns the ALTER TABLE clauses of PlanColumns (renames aside).
func alterColumnsSQL(from, to []Column) ([]string, error) {
	plan, err := PlanColumns(from, to)
	return plan.Clauses, err
}

// alterColumns turns the table's columns from into to, in the transaction given: renames
// first (on a partitioned table, each foreign partition's column keeps reading the shard's
// column under its old name), then one ALTER TABLE. A column dropped while it holds values
// is refused with a *LossError, counted in the same transaction, unless force is set.
func alterColumns(ctx context.Context, tx *sql.Tx, schema, name string, from, to []Column, force bool) (ColumnPlan, error) {
	logStep(ctx, "alter columns", schema+"."+name)
	to, err := canonicalColumnsIn(ctx, tx, to)
	if err != nil {
		return ColumnPlan{}, err
	}
	plan, err := PlanColumns(from, to)
	if err != nil || plan.Empty() {
		return plan, err
	}
	table := QualifiedIdent(schema, name)
	if len(plan.Drops) > 0 && !force { // forced, nothing is counted: the values go with the column
		if _, err := tx.ExecContext(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			return plan, err
		}
		if err := refuseLoss(force, "dropping columns of "+schema+"."+name)(localValuesHeld(ctx, tx, schema, name, plan.Drops)); err != nil {
			return plan, err
		}
	}
	for _, r := range plan.Renames {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+table+" RENAME COLUMN "+Ident(r[0])+" TO "+Ident(r[1])); err != nil {
			return plan, err
		}
		if err := keepRemoteColumnName(ctx, tx, schema, name, r[0], r[1]); err != nil {
			return plan, err
		}
	}
	if len(plan.Clauses) > 0 {
		_, err = tx.ExecContext(ctx, "ALTER TABLE "+table+" "+strings.Join(plan.Clauses, ", "))
	}
	return plan, err
}

// localValuesHeld counts the non-null values of columns in the table's own rows: a plain
// table, or a partitioned table's local leaf partitions, as `column "c" (N values)`. A
// shard counts its own in its part of the change (shardDropGuard): counting them here,
// through postgres_fdw, would hold the shard table until the base commits, and the shard's
// own DROP COLUMN would wait for it.
func localValuesHeld(ctx context.Context, q Querier, schema, name string, columns []string) ([]string, error) {
	tables, err := localLeaves(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	var held []string
	for _, c := range columns {
		var total int64
		for _, t := range tables {
			var n int64
			if err := q.QueryRowContext(ctx, "SELECT count("+Ident(c)+") FROM ONLY "+t).Scan(&n); err != nil {
				return nil, fmt.Errorf("counting the values of column %q of %s.%s: %w", c, schema, name, err)
			}
			total += n
		}
		if total > 0 {
			held = append(held, fmt.Sprintf("column %q (%d values)", c, total))
		}
	}
	return held, nil
}

// renameAndAlterColumns renames or moves the table from fromSchema.fromName to to's
// schema and name, then changes its columns to to's (see AlterColumns), in tx.
func renameAndAlterColumns(ctx context.Context, tx *sql.Tx, fromSchema, fromName string, to Table, force bool) (ColumnPlan, error) {
	if err := renameRelation(ctx, tx, false, fromSchema, fromName, to.Schema, to.Name); err != nil {
		return ColumnPlan{}, err
	}
	from, err := ReadTable(ctx, tx, to.Schema, to.Name)
	if err != nil {
		return ColumnPlan{}, err
	}
	return alterColumns(ctx, tx, to.Schema, to.Name, from.Columns, to.Columns, force)
}

// keepRemoteColumnName points each foreign partition's renamed column at the shard's
// column under its old name (postgres_fdw's column_name option), unless it already names
// one: a rename on the base never changes what the shard stores.
func keepRemoteColumnName(ctx context.Context, tx *sql.Tx, schema, name, oldName, newName string) error {
	rows, err := tx.QueryContext(ctx, `
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_partition_tree(format('%I.%I', $1::text, $2::text)::regclass) t
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3
WHERE c.relkind = 'f'
  AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(a.attfdwoptions, '{}')) o WHERE o LIKE 'column_name=%')
ORDER BY 1`, schema, name, newName)
	if err != nil {
		return err
	}
	var foreign []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return err
		}
		foreign = append(foreign, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range foreign {
		stmt := "ALTER FOREIGN TABLE " + f + " ALTER COLUMN " + Ident(newName) + " OPTIONS (ADD column_name " + Literal(oldName) + ")"
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// AlterTable renames or moves a plain table from fromSchema.fromName, and changes its
// columns and primary key to to's, in one transaction.
func AlterTable(ctx context.Context, db *sql.DB, fromSchema, fromName string, to Table, force bool) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if err := renameRelation(ctx, tx, false, fromSchema, fromName, to.Schema, to.Name); err != nil {
			return err
		}
		from, err := ReadTable(ctx, tx, to.Schema, to.Name)
		if err != nil {
			return err
		}
		return setPrimaryKey(ctx, tx, to.Schema, to.Name, from.Columns, to.Columns, from.PrimaryKey, to.PrimaryKey, force)
	})
}

// setPrimaryKey replaces the primary key of a plain table, and the columns with it: the old
// key is dropped first, the columns altered (a key column is NOT NULL by definition), then
// the new key added.
func setPrimaryKey(ctx context.Context, q *sql.Tx, schema, name string, fromCols, toCols []Column, from, to []string, force bool) error {
	table := QualifiedIdent(schema, name)
	changed := strings.Join(from, "\x00") != strings.Join(to, "\x00")
	if changed && len(from) > 0 {
		var con string
		err := q.QueryRowContext(ctx, `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, table).Scan(&con)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, "ALTER TABLE "+table+" DROP CONSTRAINT "+Ident(con)); err != nil {
			return err
		}
	}
	inKey := map[string]bool{}
	for _, k := range to {
		inKey[k] = true
	}
	cols := make([]Column, len(toCols))
	for i, c := range toCols {
		c.NotNull = c.NotNull || inKey[c.Name]
		cols[i] = c
	}
	if _, err := alterColumns(ctx, q, schema, name, fromCols, cols, force); err != nil {
		return err
	}
	if changed && len(to) > 0 {
		_, err := q.ExecContext(ctx, "ALTER TABLE "+table+" ADD PRIMARY KEY ("+identList(to)+")")
		return err
	}
	return nil
}

// DropTable drops a table (for a partitioned table, with its partitions: foreign ones only
// locally). Unless force is set, it refuses with a *LossError, counted in the same
// transaction and under an exclusive lock, while local rows would be lost.
func DropTable(ctx context.Context, db *sql.DB, schema, name string, force bool) error {
	return dropRelation(ctx, db, "TABLE", schema, name, func(tx *sql.Tx) error {
		// A DEFAULT partition's rows include those of the parent's holding partitions (see
		// holding.go): they are counted with it and go with it.
		hs, err := holdingsOfDefault(ctx, tx, schema, name)
		if err != nil {
			return err
		}
		for _, h := range hs {
			// Locked before they are counted (the parent's lock keeps out only writes through it).
			if _, err := tx.ExecContext(ctx, "LOCK TABLE "+h.Table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		if !force {
			if err := refuseLoss(false, "dropping "+schema+"."+name)(RowsHeld(ctx, tx, schema, name)); err != nil {
				return err
			}
		}
		for _, h := range hs {
			if _, err := tx.ExecContext(ctx, "DROP TABLE "+h.Table); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropRelation drops a table or foreign table if it exists, after check, in one
// transaction. A partition's parent is locked before the partition itself, the order
// every other partition DDL takes, so that partitions dropped in parallel cannot deadlock.
func dropRelation(ctx context.Context, db *sql.DB, kind, schema, name string, check func(tx *sql.Tx) error) error {
	logStep(ctx, "count what would be lost and drop "+strings.ToLower(kind), schema+"."+name)
	return inTx(ctx, db, func(tx *sql.Tx) error {
		var parent sql.NullString
		err := tx.QueryRowContext(ctx, `
SELECT (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits i
        JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid AND c.relispartition)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&parent)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if parent.Valid {
			if _, err := tx.ExecContext(ctx, "LOCK TABLE "+parent.String+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		if kind == "TABLE" { // foreign tables cannot be locked; the parent's lock covers them
			if _, err := tx.ExecContext(ctx, "LOCK TABLE "+QualifiedIdent(schema, name)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		if err := check(tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DROP "+kind+" "+QualifiedIdent(schema, name))
		return err
	})
}
