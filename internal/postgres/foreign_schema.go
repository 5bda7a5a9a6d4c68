package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/lib/pq"
)

// An import of a foreign schema is a set of foreign tables, not an object of its own: the
// catalog does not remember IMPORT FOREIGN SCHEMA. Its foreign tables are those in the local
// schema, on the server, whose schema_name option is the remote schema and whose table_name
// is their own name (as IMPORT makes them), and that the filter takes.

// SchemaImport is IMPORT FOREIGN SCHEMA RemoteSchema FROM SERVER Server INTO LocalSchema.
type SchemaImport struct {
	Server       string
	RemoteSchema string
	LocalSchema  string
	Filter       TableFilter
	// Options are postgres_fdw's import_* options. The catalog does not keep them.
	Options map[string]string
}

// TableFilter says which remote tables an import takes: those of LimitTo when it is not
// nil (LIMIT TO), otherwise all but those of Except (EXCEPT).
type TableFilter struct {
	LimitTo []string
	Except  []string
}

// Takes reports whether the filter takes the remote table name.
func (f TableFilter) Takes(name string) bool {
	if f.LimitTo != nil {
		return slices.Contains(f.LimitTo, name)
	}
	return !slices.Contains(f.Except, name)
}

// ImportedTable is a foreign table of an import, or a remote table it could import. The
// local and remote names are the same; Columns are named as on the remote (a foreign
// table's column_name option) with their types.
type ImportedTable struct {
	Name    string
	Columns []Column
}

// ImportChange is what a SyncSchemaImport did: foreign tables dropped and remote tables
// imported (a table re-imported is in both), sorted.
type ImportChange struct {
	Dropped  []string
	Imported []string
}

// RemoteMissingError says the remote lacks what an import names: its schema (Tables nil)
// or tables of LIMIT TO, which PostgreSQL would skip silently.
type RemoteMissingError struct {
	Server, Schema string
	Tables         []string
}

func (e *RemoteMissingError) Error() string {
	if e.Tables == nil {
		return fmt.Sprintf("remote schema %q does not exist on server %q", e.Schema, e.Server)
	}
	return fmt.Sprintf("remote schema %q on server %q has no table %s to import", e.Schema, e.Server, quotedList(e.Tables))
}

// ExistingTablesError says an import would create tables whose names are taken in the
// local schema: IMPORT FOREIGN SCHEMA never replaces a table.
type ExistingTablesError struct {
	Schema string
	Tables []string
}

func (e *ExistingTablesError) Error() string {
	return fmt.Sprintf("schema %q already holds %s", e.Schema, quotedList(e.Tables))
}

// importForeignSchemaSQL renders the IMPORT of exactly the named remote tables. The
// provider always lists them (LIMIT TO) after checking the remote has them, so that a table
// appearing on the remote meanwhile is not imported unseen.
func importForeignSchemaSQL(imp SchemaImport, tables []string) string {
	return "IMPORT FOREIGN SCHEMA " + Ident(imp.RemoteSchema) + " LIMIT TO (" + identList(tables) + ") FROM SERVER " +
		Ident(imp.Server) + " INTO " + Ident(imp.LocalSchema) + CreateOptionsClause(imp.Options)
}

// dropForeignTablesSQL renders one DROP of the named foreign tables of schema, without
// CASCADE: a view that reads one of them makes it fail.
func dropForeignTablesSQL(schema string, tables []string) string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = QualifiedIdent(schema, t)
	}
	return "DROP FOREIGN TABLE " + strings.Join(names, ", ")
}

// ReadImportedTables lists the foreign tables of imp (see the top of this file), sorted by
// name; ErrNotFound when the local schema or the server does not exist.
func ReadImportedTables(ctx context.Context, q Querier, imp SchemaImport) ([]ImportedTable, error) {
	var schemaExists, serverExists bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
	  EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = $2)`, imp.LocalSchema, imp.Server).Scan(&schemaExists, &serverExists)
	if err != nil {
		return nil, err
	}
	if !schemaExists || !serverExists {
		return nil, ErrNotFound
	}
	return listImported(ctx, q, imp, imp.Filter)
}

// listImported lists the foreign tables of imp that filter takes.
func listImported(ctx context.Context, q Querier, imp SchemaImport, filter TableFilter) ([]ImportedTable, error) {
	rows, err := q.QueryContext(ctx, `
SELECT c.relname::text, coalesce(a.attname::text, ''),
       coalesce((SELECT substr(o, 13) FROM unnest(a.attfdwoptions) o WHERE starts_with(o, 'column_name=')), a.attname::text, ''),
       coalesce(format_type(a.atttypid, a.atttypmod), '')
FROM pg_foreign_table ft
JOIN pg_class c ON c.oid = ft.ftrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_foreign_server s ON s.oid = ft.ftserver
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND s.srvname = $2 AND NOT c.relispartition
  AND coalesce((SELECT substr(o, 13) FROM unnest(ft.ftoptions) o WHERE starts_with(o, 'schema_name=')), n.nspname) = $3
  AND coalesce((SELECT substr(o, 12) FROM unnest(ft.ftoptions) o WHERE starts_with(o, 'table_name=')), c.relname) = c.relname
ORDER BY c.relname, a.attnum`, imp.LocalSchema, imp.Server, imp.RemoteSchema)
	if err != nil {
		return nil, fmt.Errorf("listing the foreign tables of schema %q: %w", imp.LocalSchema, err)
	}
	defer rows.Close()
	var out []ImportedTable
	for rows.Next() {
		var table, local string
		var c Column
		if err := rows.Scan(&table, &local, &c.Name, &c.Type); err != nil {
			return nil, err
		}
		out = appendColumn(out, table, local != "", c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return filterTables(out, filter), nil
}

// appendColumn adds a row of a (table, column) listing ordered by table.
func appendColumn(tables []ImportedTable, table string, hasColumn bool, c Column) []ImportedTable {
	if n := len(tables); n == 0 || tables[n-1].Name != table {
		tables = append(tables, ImportedTable{Name: table})
	}
	if hasColumn {
		last := &tables[len(tables)-1]
		last.Columns = append(last.Columns, c)
	}
	return tables
}

func filterTables(tables []ImportedTable, f TableFilter) []ImportedTable {
	out := []ImportedTable{}
	for _, t := range tables {
		if f.Takes(t.Name) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ImportableTables lists what postgres_fdw's IMPORT FOREIGN SCHEMA takes from schema on the
// shard (tables, views, foreign tables, materialized and partitioned tables; not
// partitions), with their columns, sorted by name; exists is false when the schema is not
// there.
func (r *ShardSession) ImportableTables(ctx context.Context, schema string) (tables []ImportedTable, exists bool, err error) {
	probe := `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ` + Literal(schema) + `)`
	list := `SELECT c.relname::text, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) ` +
		`FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
		`LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ` +
		`WHERE n.nspname = ` + Literal(schema) + ` AND c.relkind IN ('r', 'v', 'f', 'm', 'p') AND NOT c.relispartition ` +
		`ORDER BY c.relname, a.attnum`
	// dblink runs every statement of its text: make sure the base server parses each as one.
	for _, stmt := range []string{probe, list} {
		if err := CheckOneStatement(ctx, r.session(), stmt); err != nil {
			return nil, false, fmt.Errorf("refusing to send a query to the shard through server %q: %w", r.server, err)
		}
	}
	if err := r.session().QueryRowContext(ctx, `SELECT e FROM `+r.dblink+`($1, $2) AS t(e boolean)`, r.name, probe).Scan(&exists); err != nil {
		return nil, false, fmt.Errorf("querying the shard through server %q: %w", r.server, err)
	}
	if !exists {
		return nil, false, nil
	}
	rows, err := r.session().QueryContext(ctx, `SELECT * FROM `+r.dblink+`($1, $2) AS t(rel text, col text, typ text)`, r.name, list)
	if err != nil {
		return nil, true, fmt.Errorf("listing the tables of remote schema %q through server %q: %w", schema, r.server, err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var col, typ sql.NullString
		if err := rows.Scan(&table, &col, &typ); err != nil {
			return nil, true, err
		}
		tables = appendColumn(tables, table, col.Valid, Column{Name: col.String, Type: typ.String})
	}
	if err := rows.Err(); err != nil {
		return nil, true, err
	}
	return filterTables(tables, TableFilter{}), true, nil
}

// RemoteImportableTables is ShardSession.ImportableTables on a ShardSession of its own.
func RemoteImportableTables(ctx context.Context, db *sql.DB, server, schema string) (tables []ImportedTable, exists bool, err error) {
	err = withShardSession(ctx, db, server, func(r *ShardSession) error {
		tables, exists, err = r.ImportableTables(ctx, schema)
		return err
	})
	return tables, exists, err
}

// ImportDrift compares the foreign tables of an import (local, as ReadImportedTables lists
// them) with what the remote schema holds (remote, as ImportableTables lists it): tables of
// LIMIT TO the remote lacks, remote tables the filter takes that are not imported, foreign
// tables whose remote table is gone, and foreign tables whose columns differ from their
// remote table's (names and types), in that order, one phrase per difference.
func ImportDrift(filter TableFilter, local, remote []ImportedTable) []string {
	have := byName(local)
	there := byName(remote)
	var drift []string
	for _, n := range missingNames(filter.LimitTo, there) {
		if have[n] == nil {
			drift = append(drift, fmt.Sprintf("remote table %q of LIMIT TO does not exist", n))
		}
	}
	for _, t := range remote {
		if filter.Takes(t.Name) && have[t.Name] == nil {
			drift = append(drift, fmt.Sprintf("remote table %q is not imported", t.Name))
		}
	}
	for _, t := range local {
		rt := there[t.Name]
		if rt == nil {
			drift = append(drift, fmt.Sprintf("the remote table of foreign table %q is gone", t.Name))
		} else if diff := columnDrift(t.Columns, rt.Columns); len(diff) > 0 {
			drift = append(drift, fmt.Sprintf("remote table %q changed: %s", t.Name, strings.Join(diff, ", ")))
		}
	}
	return drift
}

// columnDrift names the columns a remote table has and its foreign table lacks, those it
// lost, and those of another type. Columns pair by name: their order does not matter to
// postgres_fdw.
func columnDrift(local, remote []Column) []string {
	have := map[string]Column{}
	for _, c := range local {
		have[c.Name] = c
	}
	there := map[string]bool{}
	var out []string
	for _, c := range remote {
		there[c.Name] = true
		l, ok := have[c.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("column %q (%s) added", c.Name, c.Type))
		case !sameImportedType(l.Type, c.Type):
			out = append(out, fmt.Sprintf("column %q is %s on the remote but %s locally", c.Name, c.Type, l.Type))
		}
	}
	for _, c := range local {
		if !there[c.Name] {
			out = append(out, fmt.Sprintf("column %q dropped", c.Name))
		}
	}
	return out
}

// sameImportedType compares a foreign table's column type with its remote column's. The
// two servers print a type outside pg_catalog qualified or not depending on their
// search_path (postgres_fdw imports with search_path = pg_catalog), so the schema is left
// out of the comparison.
func sameImportedType(local, remote string) bool {
	return sameType(unqualifiedType(local), unqualifiedType(remote))
}

// unqualifiedType drops a leading schema qualifier ("public.mood" -> "mood", quoted names
// included) from a type name as format_type prints it.
func unqualifiedType(t string) string {
	i := 0
	if strings.HasPrefix(t, `"`) {
		for i = 1; i < len(t); i++ {
			if t[i] == '"' {
				if i+1 < len(t) && t[i+1] == '"' {
					i++
					continue
				}
				i++
				break
			}
		}
	} else {
		for i < len(t) && (isIdentChar(t[i]) || t[i] == '$' || t[i] >= 0x80) {
			i++
		}
	}
	if i > 0 && i < len(t) && t[i] == '.' {
		return t[i+1:]
	}
	return t
}

// planImport decides which foreign tables to drop and which remote tables to import so
// that the import holds exactly the remote tables want takes, each with its remote
// table's columns. owned are the import's foreign tables now, remote the remote schema's
// tables; reimport re-imports every table kept (the import options changed).
func planImport(owned, remote []ImportedTable, want TableFilter, reimport bool) ImportChange {
	there := byName(remote)
	var change ImportChange
	kept := map[string]bool{}
	for _, t := range owned {
		rt := there[t.Name]
		switch {
		case rt == nil || !want.Takes(t.Name):
			change.Dropped = append(change.Dropped, t.Name)
		case reimport || len(columnDrift(t.Columns, rt.Columns)) > 0:
			change.Dropped = append(change.Dropped, t.Name)
			change.Imported = append(change.Imported, t.Name)
			kept[t.Name] = true
		default:
			kept[t.Name] = true
		}
	}
	for _, t := range remote {
		if want.Takes(t.Name) && !kept[t.Name] {
			change.Imported = append(change.Imported, t.Name)
		}
	}
	sort.Strings(change.Dropped)
	sort.Strings(change.Imported)
	return change
}

// SyncSchemaImport makes the foreign tables of to match the remote schema: it imports the
// remote tables to's filter takes and the import lacks, drops the foreign tables it no
// longer takes or whose remote table is gone, and drops and re-imports those whose columns
// differ (all of them when the import options changed). prior is the import as it was (nil
// at create: it then owns no table yet). The remote is listed first, through dblink over
// the server: every table of LIMIT TO must be there. The drops and the IMPORT then run in
// one local transaction, on the same session.
func SyncSchemaImport(ctx context.Context, db *sql.DB, prior *SchemaImport, to SchemaImport) (ImportChange, error) {
	var change ImportChange
	err := withShardSession(ctx, db, to.Server, func(r *ShardSession) error {
		remote, exists, err := r.ImportableTables(ctx, to.RemoteSchema)
		if err != nil {
			return err
		}
		if !exists {
			return &RemoteMissingError{Server: to.Server, Schema: to.RemoteSchema}
		}
		if missing := missingNames(to.Filter.LimitTo, byName(remote)); len(missing) > 0 {
			return &RemoteMissingError{Server: to.Server, Schema: to.RemoteSchema, Tables: missing}
		}
		return r.InTx(ctx, func(tx *sql.Tx) error {
			change, err = syncLocal(ctx, tx, prior, to, remote)
			return err
		})
	})
	return change, err
}

// syncLocal is the local half of SyncSchemaImport, in its transaction.
func syncLocal(ctx context.Context, tx *sql.Tx, prior *SchemaImport, to SchemaImport, remote []ImportedTable) (ImportChange, error) {
	var owned []ImportedTable
	reimport := false
	if prior != nil {
		var err error
		if owned, err = listImported(ctx, tx, to, prior.Filter); err != nil {
			return ImportChange{}, err
		}
		reimport = !maps.Equal(prior.Options, to.Options)
	}
	change := planImport(owned, remote, to.Filter, reimport)
	if err := checkNamesFree(ctx, tx, to.LocalSchema, change); err != nil {
		return change, err
	}
	object := to.RemoteSchema + " from server " + to.Server
	if len(change.Dropped) > 0 {
		logStep(ctx, fmt.Sprintf("drop %d foreign table(s) of the import of %s", len(change.Dropped), object), to.LocalSchema)
		if _, err := tx.ExecContext(ctx, dropForeignTablesSQL(to.LocalSchema, change.Dropped)); err != nil {
			return change, err
		}
	}
	if len(change.Imported) == 0 {
		return change, nil
	}
	logStep(ctx, fmt.Sprintf("import %d table(s) of foreign schema %s", len(change.Imported), object), to.LocalSchema)
	if _, err := tx.ExecContext(ctx, importForeignSchemaSQL(to, change.Imported)); err != nil {
		return change, err
	}
	// IMPORT skips a table that vanished from the remote since it was listed: say so
	// rather than record an import that is not there.
	now, err := listImported(ctx, tx, to, TableFilter{LimitTo: change.Imported})
	if err != nil {
		return change, err
	}
	if missing := missingNames(change.Imported, byName(now)); len(missing) > 0 {
		return change, fmt.Errorf("IMPORT FOREIGN SCHEMA did not create %s: the remote table(s) vanished during the import; apply again", quotedList(missing))
	}
	return change, nil
}

// checkNamesFree refuses an import whose new tables' names are taken in the local schema
// (by any relation not dropped first), naming them all.
func checkNamesFree(ctx context.Context, tx *sql.Tx, schema string, change ImportChange) error {
	var fresh []string
	for _, t := range change.Imported {
		if !slices.Contains(change.Dropped, t) {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	var taken []string
	err := tx.QueryRowContext(ctx, `SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = ANY($2)`, schema, pq.Array(fresh)).Scan(pq.Array(&taken))
	if err != nil {
		return err
	}
	if len(taken) > 0 {
		return &ExistingTablesError{Schema: schema, Tables: taken}
	}
	return nil
}

// DropImportedTables drops the foreign tables of imp among tables (those the provider
// recorded), in one statement, without CASCADE. Remote tables and the local schema stay.
func DropImportedTables(ctx context.Context, db *sql.DB, imp SchemaImport, tables []string) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		owned, err := listImported(ctx, tx, imp, imp.Filter)
		if err != nil {
			return err
		}
		var drop []string
		for _, t := range owned {
			if slices.Contains(tables, t.Name) {
				drop = append(drop, t.Name)
			}
		}
		if len(drop) == 0 {
			return nil
		}
		logStep(ctx, fmt.Sprintf("drop %d foreign table(s) of the import of %s from server %s", len(drop), imp.RemoteSchema, imp.Server), imp.LocalSchema)
		_, err = tx.ExecContext(ctx, dropForeignTablesSQL(imp.LocalSchema, drop))
		return err
	})
}

func byName(tables []ImportedTable) map[string]*ImportedTable {
	m := make(map[string]*ImportedTable, len(tables))
	for i := range tables {
		m[tables[i].Name] = &tables[i]
	}
	return m
}

// missingNames returns the names absent from have, sorted.
func missingNames(names []string, have map[string]*ImportedTable) []string {
	var out []string
	for _, n := range names {
		if have[n] == nil {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func quotedList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(out, ", ")
}
