package postgres

import (
	"database/sql"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// catalogSnapshot lists every object a DDL builder could touch by mistake.
func catalogSnapshot(t testing.TB, db *sql.DB) string {
	t.Helper()
	var s string
	err := db.QueryRow(`SELECT coalesce(string_agg(x, E'\n' ORDER BY x), '') FROM (
	  SELECT 'rel:' || oid::regclass::text FROM pg_class WHERE relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)
	  UNION ALL SELECT 'srv:' || srvname || coalesce(srvoptions::text, '') FROM pg_foreign_server
	  UNION ALL SELECT 'um:' || srvname || '/' || usename FROM pg_user_mappings
	  UNION ALL SELECT 'ext:' || extname FROM pg_extension
	  UNION ALL SELECT 'ns:' || nspname FROM pg_namespace
	  UNION ALL SELECT 'role:' || rolname FROM pg_roles) s(x)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzServerDDL feeds arbitrary server names and option values through the DDL builders
// into a real server: what the catalog then holds is exactly what was given (or the input
// was rejected before any SQL ran), and nothing else changed.
func FuzzServerDDL(f *testing.F) {
	for _, seed := range [][2]string{
		{"europe", "plain"},
		{`eu"rope`, `it's`},
		{"x; DROP TABLE t; --", "'); DROP SERVER europe; --"},
		{"$$", "$$ SELECT 1 $$"},
		{`back\slash`, `\x00\' \\`},
		{"new\nline", "new\nline"},
		{"名前", "värde ✓"},
		{"--", "/* c */"},
		{"PUBLIC", "="},
	} {
		f.Add(seed[0], seed[1])
	}
	db := freshDB(f, "postgres_fdw")
	mustExec(f, db, `CREATE SERVER bystander FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'b')`)
	f.Fuzz(func(t *testing.T, name, value string) {
		ctx := t.Context()
		if CheckIdentifier(name) != nil {
			return // refused at plan time, before any SQL
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) || strings.ContainsRune(value, 0) || name == "bystander" {
			return // Terraform strings are UTF-8; NUL in option values is refused at plan time
		}
		before := catalogSnapshot(t, db)
		s := Server{Name: name, Wrapper: "postgres_fdw", Options: map[string]string{"application_name": value, "dbname": value}}
		if err := CreateServer(ctx, db, s); err != nil {
			t.Fatalf("create server %q with option %q: %v", name, value, err)
		}
		got, err := ReadServer(ctx, db, name)
		if err != nil {
			t.Fatalf("read server %q: %v", name, err)
		}
		if !reflect.DeepEqual(got.Options, s.Options) {
			t.Fatalf("server %q options read back %q, want %q", name, got.Options, s.Options)
		}
		m := UserMapping{Server: name, Role: PublicRole, Options: map[string]string{"user": value, "password": value}}
		if err := CreateUserMapping(ctx, db, m); err != nil {
			t.Fatalf("create mapping: %v", err)
		}
		if um, err := ReadUserMapping(ctx, db, name, PublicRole); err != nil || !reflect.DeepEqual(um.Options, m.Options) {
			t.Fatalf("mapping read back %+v, %v", um, err)
		}
		if err := DropUserMapping(ctx, db, name, PublicRole); err != nil {
			t.Fatal(err)
		}
		if err := DropServer(ctx, db, name); err != nil {
			t.Fatal(err)
		}
		if after := catalogSnapshot(t, db); after != before {
			t.Fatalf("catalog changed beyond the server %q:\nbefore:\n%s\nafter:\n%s", name, before, after)
		}
	})
}

// FuzzTableDDL does the same for a partitioned table, its columns, a list partition and
// a row routed by the bound value.
func FuzzTableDDL(f *testing.F) {
	for _, seed := range [][3]string{
		{"tweets", "location", "europe"},
		{`tw"eets`, "loc'ation", "it's"},
		{"t; DROP TABLE x; --", "c--", "'); DROP TABLE x; --"},
		{"$$t$$", `c\`, `\`},
		{"名前", "列", "ヨーロッパ"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	db := freshDB(f)
	f.Fuzz(func(t *testing.T, table, column, value string) {
		ctx := t.Context()
		part := table + "_p"
		for _, n := range []string{table, column, part} {
			if CheckIdentifier(n) != nil || !utf8.ValidString(n) {
				return
			}
		}
		if !utf8.ValidString(value) || strings.ContainsRune(value, 0) || column == "id" || strings.EqualFold(value, NullValue) {
			return
		}
		if strings.HasPrefix(strings.TrimSpace(column), "(") {
			return // a key in parentheses is an expression, checked as one at plan time
		}
		before := catalogSnapshot(t, db)
		parent := Table{Schema: "public", Name: table, Columns: []Column{{Name: "id", Type: "int"}, {Name: column, Type: "text"}},
			PartitionBy: &PartitionKey{Strategy: "list", Key: []string{column}}}
		if err := CreateTable(ctx, db, parent); err != nil {
			t.Fatalf("create table %q: %v", table, err)
		}
		p := Partition{Schema: "public", Name: part, ParentSchema: "public", ParentName: table, Bound: Bound{In: []string{value}}}
		if err := createPartition(ctx, db, p); err != nil {
			t.Fatalf("create partition: %v", err)
		}
		got, err := ReadPartition(ctx, db, "public", part)
		if err != nil || !reflect.DeepEqual(got.Bound.In, []string{value}) || got.ParentName != table {
			t.Fatalf("partition read back %+v, %v; want bound %q", got, err, value)
		}
		rt, err := ReadTable(ctx, db, "public", table)
		if err != nil || rt.Columns[1].Name != column || !reflect.DeepEqual(rt.PartitionBy.Key, []string{column}) {
			t.Fatalf("table read back %+v, %v", rt, err)
		}
		if _, err := db.Exec("INSERT INTO "+QualifiedIdent("public", table)+" VALUES (1, $1)", value); err != nil {
			t.Fatalf("insert routed by %q: %v", value, err)
		}
		if err := DropTable(ctx, db, "public", table, true); err != nil {
			t.Fatal(err)
		}
		if after := catalogSnapshot(t, db); after != before {
			t.Fatalf("catalog changed beyond table %q:\nbefore:\n%s\nafter:\n%s", table, before, after)
		}
	})
}

// Parts of a table that are SQL by nature are checked again in this layer, for values that
// were unknown when Terraform validated the configuration; names are always quoted, a
// primary key column with a parenthesis included.
func TestCreateTableSQLChecksAndQuotes(t *testing.T) {
	bad := []Table{
		{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "int; DROP TABLE x"}}},
		{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "int", Default: "0); DROP TABLE x; --"}}},
		{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "int"}}, PartitionBy: &PartitionKey{Strategy: "list) ; DROP TABLE x; --", Key: []string{"id"}}},
		{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Type: "int"}}, PartitionBy: &PartitionKey{Strategy: "list", Key: []string{"(id)); DROP TABLE x; --("}}},
		{Schema: "public", Name: "t", Columns: []Column{{Name: "", Type: "int"}}},
	}
	for _, tbl := range bad {
		if stmt, err := createTableSQL(tbl); err == nil {
			t.Errorf("accepted %+v as %s", tbl, stmt)
		}
	}
	db := freshDB(t)
	mustExec(t, db, `CREATE TABLE canary (id int)`)
	hostile := "(1)); DROP TABLE canary; --"
	if err := CreateTable(t.Context(), db, Table{Schema: "public", Name: "t", Columns: []Column{{Name: hostile, Type: "int"}}, PrimaryKey: []string{hostile}}); err != nil {
		t.Fatal(err)
	}
	var pk string
	if err := db.QueryRow(`SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.conrelid = 't'::regclass AND c.contype = 'p'`).Scan(&pk); err != nil || pk != hostile {
		t.Fatalf("primary key column %q, %v", pk, err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM canary`).Scan(&n); err != nil {
		t.Fatalf("the canary is gone: %v", err)
	}
}
