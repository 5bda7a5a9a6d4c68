package postgres

import (
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestForeignSchemaImportSQL(t *testing.T) {
	imp := SchemaImport{Server: `eu"rope`, RemoteSchema: `re'mote`, LocalSchema: "lo cal",
		Options: map[string]string{"import_not_null": "false", "import_default": "true"}}
	got := importForeignSchemaSQL(imp, []string{`we"ird; DROP TABLE x; --`, "plain"})
	want := `IMPORT FOREIGN SCHEMA "re'mote" LIMIT TO ("we""ird; DROP TABLE x; --", "plain") FROM SERVER "eu""rope" INTO "lo cal" ` +
		`OPTIONS ("import_default" 'true', "import_not_null" 'false')`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := dropForeignTablesSQL("s", []string{"a", `b"`}), `DROP FOREIGN TABLE "s"."a", "s"."b"""`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestForeignSchemaUnqualifiedType(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"integer", "integer"},
		{"public.mood", "mood"},
		{`"my schema".mood[]`, "mood[]"},
		{`"a""b".t`, "t"},
		{"numeric(10,2)", "numeric(10,2)"},
		{"character varying(20)", "character varying(20)"},
		{"double precision", "double precision"},
		{"timestamp(3) with time zone", "timestamp(3) with time zone"},
		{"schéma.t", "t"},
	} {
		if got := unqualifiedType(c.in); got != c.want {
			t.Errorf("unqualifiedType(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if !sameImportedType("public.mood", "mood") || !sameImportedType("int4", "integer") || sameImportedType("text", "integer") {
		t.Error("sameImportedType compares wrongly")
	}
}

func importedTable(name string, cols ...string) ImportedTable {
	t := ImportedTable{Name: name}
	for _, c := range cols {
		n, typ, _ := strings.Cut(c, " ")
		t.Columns = append(t.Columns, Column{Name: n, Type: typ})
	}
	return t
}

func TestForeignSchemaPlanImport(t *testing.T) {
	a, b, c := importedTable("a", "id integer"), importedTable("b", "id integer"), importedTable("c", "id bigint")
	aWide := importedTable("a", "id integer", "extra text")
	for _, tc := range []struct {
		name              string
		owned, remote     []ImportedTable
		want              TableFilter
		reimport          bool
		dropped, imported []string
	}{
		{name: "create", remote: []ImportedTable{a, b, c}, want: TableFilter{LimitTo: []string{"b", "a"}}, imported: []string{"a", "b"}},
		{name: "create all", remote: []ImportedTable{a, b, c}, imported: []string{"a", "b", "c"}},
		{name: "create except", remote: []ImportedTable{a, b, c}, want: TableFilter{Except: []string{"b"}}, imported: []string{"a", "c"}},
		{name: "grow", owned: []ImportedTable{a, b}, remote: []ImportedTable{a, b, c}, want: TableFilter{LimitTo: []string{"a", "b", "c"}}, imported: []string{"c"}},
		{name: "shrink", owned: []ImportedTable{a, b}, remote: []ImportedTable{a, b, c}, want: TableFilter{LimitTo: []string{"b"}}, dropped: []string{"a"}},
		{name: "no change", owned: []ImportedTable{a, b, c}, remote: []ImportedTable{a, b, c}},
		{name: "column added", owned: []ImportedTable{a, b}, remote: []ImportedTable{aWide, b}, dropped: []string{"a"}, imported: []string{"a"}},
		{name: "remote gone", owned: []ImportedTable{a, b}, remote: []ImportedTable{b}, dropped: []string{"a"}},
		{name: "options", owned: []ImportedTable{a, b}, remote: []ImportedTable{a, b}, reimport: true, dropped: []string{"a", "b"}, imported: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planImport(tc.owned, tc.remote, tc.want, tc.reimport)
			if !reflect.DeepEqual(got.Dropped, tc.dropped) || !reflect.DeepEqual(got.Imported, tc.imported) {
				t.Errorf("got dropped %q imported %q, want dropped %q imported %q", got.Dropped, got.Imported, tc.dropped, tc.imported)
			}
		})
	}
}

func TestForeignSchemaImportDrift(t *testing.T) {
	a, b, c := importedTable("a", "id integer", "name text"), importedTable("b", "id integer"), importedTable("c", "id bigint")
	for _, tc := range []struct {
		name          string
		filter        TableFilter
		local, remote []ImportedTable
		want          []string
	}{
		{name: "same", filter: TableFilter{LimitTo: []string{"a", "b"}}, local: []ImportedTable{a, b}, remote: []ImportedTable{a, b, c}},
		{name: "same spelling aside", local: []ImportedTable{importedTable("c", "id int8")}, remote: []ImportedTable{c}},
		{name: "new remote table", local: []ImportedTable{a, b}, remote: []ImportedTable{a, b, c}, want: []string{`remote table "c" is not imported`}},
		{name: "excepted", filter: TableFilter{Except: []string{"c"}}, local: []ImportedTable{a, b}, remote: []ImportedTable{a, b, c}},
		{name: "remote gone", local: []ImportedTable{a, b}, remote: []ImportedTable{b}, want: []string{`the remote table of foreign table "a" is gone`}},
		{name: "limit_to missing", filter: TableFilter{LimitTo: []string{"a", "x"}}, local: []ImportedTable{a}, remote: []ImportedTable{a},
			want: []string{`remote table "x" of LIMIT TO does not exist`}},
		{name: "columns", local: []ImportedTable{a}, remote: []ImportedTable{importedTable("a", "id bigint", "email text")},
			want: []string{`remote table "a" changed: column "id" is bigint on the remote but integer locally, column "email" (text) added, column "name" dropped`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ImportDrift(tc.filter, tc.local, tc.remote); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// importFixture is a base database with server europe reaching a shard whose schema
// "remote" holds users, orders (a view of users) and events, each with rows, and a local
// schema "imported".
func importFixture(t *testing.T) (base, shard *sql.DB) {
	base, shard = shardFixture(t)
	mustExec(t, base, `CREATE SCHEMA imported`)
	mustExec(t, shard, `CREATE SCHEMA remote`)
	mustExec(t, shard, `CREATE TABLE remote.users (id int PRIMARY KEY, name text NOT NULL DEFAULT 'anon')`)
	mustExec(t, shard, `INSERT INTO remote.users VALUES (1, 'alice'), (2, 'bob')`)
	mustExec(t, shard, `CREATE VIEW remote.orders AS SELECT id, name AS buyer FROM remote.users`)
	mustExec(t, shard, `CREATE TABLE remote.events (id bigint, at timestamptz, payload jsonb)`)
	mustExec(t, shard, `CREATE TABLE remote.parted (id int) PARTITION BY RANGE (id)`)
	mustExec(t, shard, `CREATE TABLE remote.parted_1 PARTITION OF remote.parted FOR VALUES FROM (0) TO (10)`)
	return base, shard
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRowContext(t.Context(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

const importedTablesQuery = `SELECT coalesce(string_agg(relname, ',' ORDER BY relname), '') FROM pg_class WHERE relnamespace = 'imported'::regnamespace AND relkind = 'f'`

func TestForeignSchemaImportLifecycle(t *testing.T) {
	base, shard := importFixture(t)
	ctx := t.Context()
	imp := SchemaImport{Server: "europe", RemoteSchema: "remote", LocalSchema: "imported", Filter: TableFilter{LimitTo: []string{"users", "orders"}}}

	// A LIMIT TO name the remote lacks (a partition counts as lacking) fails before anything is imported.
	bad := imp
	bad.Filter.LimitTo = []string{"users", "nope", "parted_1"}
	var missing *RemoteMissingError
	if _, err := SyncSchemaImport(ctx, base, nil, bad); !errors.As(err, &missing) || !reflect.DeepEqual(missing.Tables, []string{"nope", "parted_1"}) {
		t.Fatalf("want the missing names, got %v", err)
	}
	noSchema := imp
	noSchema.RemoteSchema = "Remote"
	if _, err := SyncSchemaImport(ctx, base, nil, noSchema); !errors.As(err, &missing) || missing.Tables != nil {
		t.Fatalf("want a missing remote schema, got %v", err)
	}
	if got := queryString(t, base, importedTablesQuery); got != "" {
		t.Fatalf("a refused import left %q", got)
	}

	change, err := SyncSchemaImport(ctx, base, nil, imp)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(change.Imported, []string{"orders", "users"}) || change.Dropped != nil {
		t.Fatalf("create changed %+v", change)
	}
	if got := queryString(t, base, `SELECT string_agg(name, ',' ORDER BY id) FROM imported.users`); got != "alice,bob" {
		t.Fatalf("rows through the foreign table: %q", got)
	}
	local, err := ReadImportedTables(ctx, base, imp)
	if err != nil {
		t.Fatal(err)
	}
	remote, exists, err := RemoteImportableTables(ctx, base, "europe", "remote")
	if err != nil || !exists {
		t.Fatalf("remote: %v %v", exists, err)
	}
	if names := tableNames(remote); !reflect.DeepEqual(names, []string{"events", "orders", "parted", "users"}) {
		t.Fatalf("importable remote tables %q", names)
	}
	if drift := ImportDrift(imp.Filter, local, remote); drift != nil {
		t.Fatalf("drift right after the import: %q", drift)
	}

	// Growing LIMIT TO imports only the new table: the others keep their oid.
	usersOID := queryString(t, base, `SELECT 'imported.users'::regclass::oid::text`)
	grown := imp
	grown.Filter.LimitTo = []string{"users", "orders", "events"}
	if change, err = SyncSchemaImport(ctx, base, &imp, grown); err != nil || !reflect.DeepEqual(change.Imported, []string{"events"}) || change.Dropped != nil {
		t.Fatalf("grow: %+v %v", change, err)
	}
	if got := queryString(t, base, `SELECT 'imported.users'::regclass::oid::text`); got != usersOID {
		t.Fatal("growing limit_to re-imported users")
	}

	// A remote column change is drift; the repair re-imports that table only.
	mustExec(t, shard, `ALTER TABLE remote.users ADD COLUMN email text`)
	mustExec(t, shard, `UPDATE remote.users SET email = name || '@example.org'`)
	local, _ = ReadImportedTables(ctx, base, grown)
	remote, _, _ = RemoteImportableTables(ctx, base, "europe", "remote")
	if drift := ImportDrift(grown.Filter, local, remote); !reflect.DeepEqual(drift, []string{`remote table "users" changed: column "email" (text) added`}) {
		t.Fatalf("drift %q", drift)
	}
	if change, err = SyncSchemaImport(ctx, base, &grown, grown); err != nil || !reflect.DeepEqual(change.Imported, []string{"users"}) || !reflect.DeepEqual(change.Dropped, []string{"users"}) {
		t.Fatalf("repair: %+v %v", change, err)
	}
	if got := queryString(t, base, `SELECT email FROM imported.users WHERE id = 1`); got != "alice@example.org" {
		t.Fatalf("new column reads %q", got)
	}

	// Shrinking drops only the foreign tables no longer listed.
	if change, err = SyncSchemaImport(ctx, base, &grown, imp); err != nil || !reflect.DeepEqual(change.Dropped, []string{"events"}) || change.Imported != nil {
		t.Fatalf("shrink: %+v %v", change, err)
	}

	// New options re-import every table, in one transaction.
	withDefaults := imp
	withDefaults.Options = map[string]string{"import_default": "true"}
	if change, err = SyncSchemaImport(ctx, base, &imp, withDefaults); err != nil || !reflect.DeepEqual(change.Imported, []string{"orders", "users"}) {
		t.Fatalf("options: %+v %v", change, err)
	}
	if got := queryString(t, base, `SELECT column_default FROM information_schema.columns WHERE table_schema = 'imported' AND table_name = 'users' AND column_name = 'name'`); got != "'anon'::text" {
		t.Fatalf("import_default gave %q", got)
	}

	// Destroy drops the foreign tables it made and nothing else.
	mustExec(t, base, `CREATE FOREIGN TABLE imported.bystander (id int) SERVER europe OPTIONS (schema_name 'remote', table_name 'events')`)
	if err := DropImportedTables(ctx, base, withDefaults, []string{"orders", "users"}); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, base, importedTablesQuery); got != "bystander" {
		t.Fatalf("after destroy: %q", got)
	}
	if got := queryString(t, shard, `SELECT count(*) FROM remote.users`); got != "2" {
		t.Fatalf("remote rows after destroy: %s", got)
	}
}

func tableNames(tables []ImportedTable) []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.Name
	}
	return out
}

// A table of the import's name already in the local schema fails the import, naming
// every such table, and nothing is imported.
func TestForeignSchemaImportExistingTable(t *testing.T) {
	base, _ := importFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE imported.users (id int)`)
	mustExec(t, base, `CREATE VIEW imported.events AS SELECT 1 AS id`)
	imp := SchemaImport{Server: "europe", RemoteSchema: "remote", LocalSchema: "imported"}
	var taken *ExistingTablesError
	if _, err := SyncSchemaImport(ctx, base, nil, imp); !errors.As(err, &taken) || !reflect.DeepEqual(taken.Tables, []string{"events", "users"}) {
		t.Fatalf("want events and users named, got %v", err)
	}
	if got := queryString(t, base, importedTablesQuery); got != "" {
		t.Fatalf("a refused import left %q", got)
	}
}

// Without dblink the import says what to install.
func TestForeignSchemaImportNeedsDblink(t *testing.T) {
	base, _ := importFixture(t)
	mustExec(t, base, `DROP EXTENSION dblink`)
	_, err := SyncSchemaImport(t.Context(), base, nil, SchemaImport{Server: "europe", RemoteSchema: "remote", LocalSchema: "imported"})
	if err == nil || !strings.Contains(err.Error(), "dblink extension is not installed") {
		t.Fatalf("want the dblink advice, got %v", err)
	}
}

// Hostile schema and table names import verbatim, and nothing else runs on either side.
func TestForeignSchemaImportHostileNames(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	const (
		remoteSchema = `re"mote'; DROP TABLE canary; --`
		table        = `we"ird; DROP TABLE canary; --`
		localSchema  = `lo'cal"; DROP TABLE canary; --`
	)
	for _, db := range []*sql.DB{base, shard} {
		mustExec(t, db, `CREATE TABLE canary (id int)`)
	}
	mustExec(t, base, `CREATE SCHEMA `+Ident(localSchema))
	mustExec(t, shard, `CREATE SCHEMA `+Ident(remoteSchema))
	mustExec(t, shard, `CREATE TABLE `+QualifiedIdent(remoteSchema, table)+` ("co'l""; --" text)`)
	mustExec(t, shard, `INSERT INTO `+QualifiedIdent(remoteSchema, table)+` VALUES ('x')`)
	before := catalogSnapshot(t, base)
	imp := SchemaImport{Server: "europe", RemoteSchema: remoteSchema, LocalSchema: localSchema, Filter: TableFilter{LimitTo: []string{table}}}
	if _, err := SyncSchemaImport(ctx, base, nil, imp); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, base, `SELECT "co'l""; --" FROM `+QualifiedIdent(localSchema, table)); got != "x" {
		t.Fatalf("read %q through the foreign table", got)
	}
	local, err := ReadImportedTables(ctx, base, imp)
	if err != nil || len(local) != 1 || local[0].Name != table {
		t.Fatalf("read back %+v %v", local, err)
	}
	remote, _, err := RemoteImportableTables(ctx, base, "europe", remoteSchema)
	if err != nil {
		t.Fatal(err)
	}
	if drift := ImportDrift(imp.Filter, local, remote); drift != nil {
		t.Fatalf("drift %q", drift)
	}
	if err := DropImportedTables(ctx, base, imp, []string{table}); err != nil {
		t.Fatal(err)
	}
	if after := catalogSnapshot(t, base); after != before {
		t.Fatalf("catalog changed:\nbefore %s\nafter  %s", before, after)
	}
	for _, db := range []*sql.DB{base, shard} {
		mustExec(t, db, `SELECT count(*) FROM canary`)
	}
}
