package provider

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// badInput is one row of the bad-input catalog: a resource given a bad value, when the
// provider catches it, and (a fragment of) the message that says what to do.
type badInput struct {
	what     string // the input, in words
	resource string // resource type
	body     string // the resource's arguments
	apply    bool   // caught at apply (needs the database), else at plan
	message  string // a fragment of the diagnostic, matched with flexible white space
}

var long64 = strings.Repeat("x", 64)

// badInputs is the catalog. `make docs` publishes it as the "Bad input" guide
// (TestBadInputGuide_UpToDate keeps the two in step).
var badInputs = []badInput{
	// Foreign servers.
	{"server name of 64 bytes", "pgshard_foreign_server", `name = "` + long64 + `"`, false, `is 64 bytes long; PostgreSQL identifiers are at most 63 bytes`},
	{"option key postgres_fdw rejects (`fetchsize`)", "pgshard_foreign_server", `name = "s"` + "\n" + `options = { fetchsize = "10" }`, false, `"fetchsize" is not a valid foreign server option for postgres_fdw. Valid options are:`},
	{"user mapping option on a server (`user`)", "pgshard_foreign_server", `name = "s"` + "\n" + `options = { user = "x" }`, false, `"user" is not a valid foreign server option`},
	{"`host` both as attribute and option", "pgshard_foreign_server", `name = "s"` + "\n" + `host = "a"` + "\n" + `options = { host = "b" }`, false, `The foreign server option "host" belongs in the ` + "`host`" + ` attribute, not in ` + "`options`"},
	{"port 0", "pgshard_foreign_server", `name = "s"` + "\n" + `port = 0`, false, `port value must be between 1 and 65535, got: 0`},
	{"port 70000", "pgshard_foreign_server", `name = "s"` + "\n" + `port = 70000`, false, `port value must be between 1 and 65535, got: 70000`},
	{"`fetch_size = \"0\"`", "pgshard_foreign_server", `name = "s"` + "\n" + `options = { fetch_size = "0" }`, false, `The foreign server option "fetch_size" must be a positive integer, got "0"`},
	{"`async_capable = \"maybe\"`", "pgshard_foreign_server", `name = "s"` + "\n" + `options = { async_capable = "maybe" }`, false, `The foreign server option "async_capable" must be a boolean (true or false), got "maybe"`},
	{"`batch_size = \"ten\"`", "pgshard_foreign_server", `name = "s"` + "\n" + `options = { batch_size = "ten" }`, false, `"batch_size" must be a positive integer, got "ten"`},
	{"`fdw_startup_cost = \"-1\"`", "pgshard_foreign_server", `name = "s"` + "\n" + `options = { fdw_startup_cost = "-1" }`, false, `"fdw_startup_cost" must be a non-negative number, got "-1"`},
	{"foreign-data wrapper that does not exist", "pgshard_foreign_server", `name = "s"` + "\n" + `foreign_data_wrapper = "no_fdw"`, true, `Could not create foreign server "s" in database`},
	{"owner role that does not exist", "pgshard_foreign_server", `name = "s"` + "\n" + `owner = "ghost_owner"`, true, `role "ghost_owner" does not exist`},
	// User mappings.
	{"role `public` in lower case", "pgshard_user_mapping", `server = "europe"` + "\n" + `role = "public"`, false, `The role "public" is written "PUBLIC"`},
	{"password given in `options`", "pgshard_user_mapping", `server = "europe"` + "\n" + `options = { password = "x" }`, false, `The user mapping option "password" belongs in the ` + "`password`" + ` attribute`},
	{"server option on a mapping (`fetch_size`)", "pgshard_user_mapping", `server = "europe"` + "\n" + `options = { fetch_size = "1" }`, false, `"fetch_size" is not a valid user mapping option for postgres_fdw`},
	{"`password_required = \"sometimes\"`", "pgshard_user_mapping", `server = "europe"` + "\n" + `options = { password_required = "sometimes" }`, false, `"password_required" must be a boolean`},
	{"role that does not exist", "pgshard_user_mapping", `server = "europe"` + "\n" + `role = "ghost_role"`, true, `role "ghost_role" does not exist`},
	{"server that does not exist", "pgshard_user_mapping", `server = "nowhere"`, true, `server "nowhere" does not exist`},
	{"server name of 64 bytes", "pgshard_user_mapping", `server = "` + long64 + `"`, false, `is 64 bytes long`},
	// Extensions.
	{"extension name of 64 bytes", "pgshard_extension", `name = "` + long64 + `"`, false, `is 64 bytes long`},
	{"extension that is not installed on the server", "pgshard_extension", `name = "no_such_extension"`, true, `Could not create extension "no_such_extension"`},
	// Partitioned tables.
	{"table name of 64 bytes", "pgshard_partitioned_table", `name = "` + long64 + `"` + "\n" + `columns = [{ name = "id", type = "int" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `is 64 bytes long`},
	{"column name of 64 bytes", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "` + long64 + `", type = "int" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `is 64 bytes long`},
	{"no columns", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = []` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `columns list must contain at least 1 elements`},
	{"duplicate column names", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int" }, { name = "id", type = "text" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `The column name "id" appears more than once`},
	{"unknown strategy", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int" }]` + "\n" + `partition_by = { strategy = "round-robin", key = ["id"] }`, false, `value must be one of: ["list" "range" "hash"]`},
	{"key naming no column", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int" }]` + "\n" + `partition_by = { strategy = "list", key = ["region"] }`, false, `The partition key "region" names no column of the table`},
	{"key expression with unbalanced parentheses", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int" }]` + "\n" + `partition_by = { strategy = "list", key = ["(abs(id)"] }`, false, `has unbalanced parentheses`},
	{"type with SQL after it (`int; DROP TABLE x`)", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int; DROP TABLE x" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `is not a PostgreSQL type name`},
	{"default that ends the statement (`0); DROP TABLE x; --`)", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int", default = "0); DROP TABLE x; --" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `Invalid SQL Expression`},
	{"default with dollar quoting", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "text", default = "$$x$$" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `contains '$' outside a quoted string`},
	{"default with a non-ASCII dollar-quote tag (`$é$ ... $é$`)", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "text", default = "$é$ ); DROP TABLE x; $é$" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `contains '$' outside a quoted string`},
	{"default with an escape string that hides a quote (`E'\\'' ...`)", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "text", default = "E'\\'' || 1)); DROP TABLE x; -- '" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `contains a backslash`},
	{"key expression with a comment (`(id /* c */)`)", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int" }]` + "\n" + `partition_by = { strategy = "list", key = ["(id /* c */)"] }`, false, `contains a /* comment */`},
	{"`renamed_from` of 64 bytes", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "int", renamed_from = "` + long64 + `" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, false, `is 64 bytes long`},
	{"unknown type (`intgr`)", "pgshard_partitioned_table", `name = "t"` + "\n" + `columns = [{ name = "id", type = "intgr" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, true, `type "intgr" does not exist`},
	{"schema that does not exist", "pgshard_partitioned_table", `schema = "nope"` + "\n" + `name = "t"` + "\n" + `columns = [{ name = "id", type = "int" }]` + "\n" + `partition_by = { strategy = "list", key = ["id"] }`, true, `schema "nope" does not exist`},
	// Partitions.
	{"empty `values_in`", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_in = []`, false, `values_in list must contain at least 1 elements`},
	{"duplicate `values_in`", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_in = ["a", "a"]`, false, `This attribute contains duplicate values`},
	{"two bound kinds at once", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_in = ["a"]` + "\n" + `is_default = true`, false, `A partition has exactly one bound, but [values_in is_default] are all set`},
	{"no bound at all", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"`, false, `A partition needs exactly one bound`},
	{"`is_default = false`", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `is_default = false`, false, `is_default = false is not a bound`},
	{"`modulus = 0`", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `modulus = 0` + "\n" + `remainder = 0`, false, `modulus value must be at least 1, got: 0`},
	{"`remainder >= modulus`", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `modulus = 4` + "\n" + `remainder = 4`, false, `remainder is 4 but must be less than modulus (4)`},
	{"`values_from` without `values_to`", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_from = ["1"]`, false, `A RANGE bound needs both values_from and values_to`},
	{"range ends of different lengths", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_from = ["1", "2"]` + "\n" + `values_to = ["3"]`, false, `values_from has 2 values but values_to has 1`},
	{"parent that is not `schema.name`", "pgshard_partition", `parent = "public."` + "\n" + `name = "p"` + "\n" + `is_default = true`, false, `is not a table reference`},
	{"parent that is not partitioned", "pgshard_partition", `parent = "public.plain"` + "\n" + `name = "p"` + "\n" + `is_default = true`, true, `the parent public.plain is not a partitioned table`},
	{"parent in another database", "pgshard_partition", `parent = "public.elsewhere"` + "\n" + `name = "p"` + "\n" + `is_default = true`, true, `the parent public.elsewhere does not exist in that database`},
	{"bound overlapping another partition", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_in = ["eu", "europe"]`, true, `would overlap partition "europe_tweets"`},
	{"bound whose rows sit in DEFAULT", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `values_in = ["asia"]`, true, `2 rows in the DEFAULT partition public.tweets_default match its bound`},
	// Foreign partitions.
	{"`table_name` given in `options`", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "europe"` + "\n" + `values_in = ["x"]` + "\n" + `options = { table_name = "t" }`, false, `belongs in the ` + "`remote_table`" + ` attribute`},
	{"foreign table option postgres_fdw rejects", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "europe"` + "\n" + `values_in = ["x"]` + "\n" + `options = { keep_connections = "on" }`, false, `"keep_connections" is not a valid foreign table option`},
	{"`remote_identity` without `create_remote_table`", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "europe"` + "\n" + `values_in = ["x"]` + "\n" + `remote_identity = { column = "id", start = 1, increment = 1 }`, false, `remote_identity only takes effect when the provider creates the shard table`},
	{"server that does not exist", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "nowhere"` + "\n" + `values_in = ["x"]`, true, `server "nowhere" does not exist`},
	{"shard table lacking the parent's columns", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "europe"` + "\n" + `remote_table = "partial"` + "\n" + `values_in = ["x"]`, true, `missing columns "text", "like_count"`},
	{"`create_remote_table` without dblink", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "europe"` + "\n" + `values_in = ["x"]` + "\n" + `create_remote_table = true`, true, `the dblink extension is not installed in this database`},
	{"`on_rows_outside_bound = \"move_to_default\"` on the DEFAULT partition", "pgshard_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `is_default = true` + "\n" + `on_rows_outside_bound = "move_to_default"`, false, `moves rows into the DEFAULT partition; this partition is the DEFAULT`},
	{"`on_rows_outside_bound` neither fail nor move_to_default", "pgshard_foreign_partition", `parent = "public.tweets"` + "\n" + `name = "p"` + "\n" + `server = "europe"` + "\n" + `values_in = ["x"]` + "\n" + `on_rows_outside_bound = "delete"`, false, `value must be one of: ["fail" "move_to_default"]`},
	// Foreign schema imports.
	{"both `limit_to` and `except`", "pgshard_foreign_schema_import", `server = "europe"` + "\n" + `remote_schema = "public"` + "\n" + `local_schema = "public"` + "\n" + `limit_to = ["a"]` + "\n" + `except = ["b"]`, false, `cannot be specified when`},
	{"import option that is not a boolean", "pgshard_foreign_schema_import", `server = "europe"` + "\n" + `remote_schema = "public"` + "\n" + `local_schema = "public"` + "\n" + `options = { import_default = "maybe" }`, false, `is not "true" or "false"`},
	{"import without dblink in the database", "pgshard_foreign_schema_import", `server = "europe"` + "\n" + `remote_schema = "public"` + "\n" + `local_schema = "public"` + "\n" + `limit_to = ["partial"]`, true, `the dblink extension is not installed in this database`},
	// Settings.
	{"settings for neither a database nor a role", "pgshard_settings", `settings = { work_mem = "64MB" }`, false, `At least one of these attributes must be configured: [database,role]`},
	{"no settings", "pgshard_settings", `database = "tweets"` + "\n" + `settings = {}`, false, `map must contain at least 1 elements`},
	{"a parameter name in capitals (`Work_Mem`)", "pgshard_settings", `database = "tweets"` + "\n" + `settings = { Work_Mem = "64MB" }`, false, `"Work_Mem" is not a configuration parameter name: use the lower-case name pg_settings shows`},
	{"`role` as a parameter", "pgshard_settings", `database = "tweets"` + "\n" + `settings = { role = "admin" }`, false, `"role" changes who a session is: pgshard_settings does not set it`},
	{"a parameter the server does not know", "pgshard_settings", `database = "tweets"` + "\n" + `settings = { no_such_parameter = "1" }`, true, `unrecognized configuration parameter "no_such_parameter"`},
	{"a value the parameter does not take", "pgshard_settings", `database = "tweets"` + "\n" + `settings = { enable_partitionwise_join = "maybe" }`, true, `parameter "enable_partitionwise_join" requires a Boolean value`},
}

func (b badInput) pattern() *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(regexp.QuoteMeta(b.message), " ", `\s+`))
}

// badInputSteps is one step for each row caught at apply (apply) or at plan (!apply),
// with providerConfig in front: each expects the row's message.
func badInputSteps(providerConfig string, apply bool) []resource.TestStep {
	var steps []resource.TestStep
	for _, b := range badInputs {
		if b.apply != apply {
			continue
		}
		steps = append(steps, resource.TestStep{
			Config:      providerConfig + fmt.Sprintf("resource %q \"bad\" {\n%s\n}\n", b.resource, b.body),
			ExpectError: b.pattern(),
			PlanOnly:    !apply,
		})
	}
	return steps
}

// The rows caught at plan time are refused with no database at all: planning a create
// never connects (the provider's port counts connection attempts and fails the test on one).
func TestBadInputCatalog_Plan(t *testing.T) {
	steps := badInputSteps(noConnectionProviderConfig(t), false)
	unitTest(t, resource.TestCase{Steps: steps})
	t.Logf("%d bad inputs refused at plan time", len(steps))
}

// The rows caught at apply are refused by the database with their message, and none
// leaves an object behind, on the base or on the shard.
func TestAccBadInputCatalog_Apply(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	other := newAccDatabase(t, nil)
	other.Exec(t, `CREATE TABLE elsewhere (id int) PARTITION BY LIST (id)`)
	shard.Exec(t, `CREATE TABLE partial (id int, location text, owner_id bigint)`)
	for _, stmt := range []string{
		`CREATE TABLE tweets (id int, location text, text text, owner_id bigint, like_count int) PARTITION BY LIST (location)`,
		`CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`,
		`CREATE TABLE europe_tweets PARTITION OF tweets FOR VALUES IN ('europe')`,
		`INSERT INTO tweets (location) VALUES ('asia'), ('asia')`,
		`CREATE TABLE plain (id int)`,
		fmt.Sprintf(`CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`, quoteLiteral(shard.Cluster.Host), shard.Cluster.Port, quoteLiteral(shard.Name)),
		fmt.Sprintf(`CREATE USER MAPPING FOR postgres SERVER europe OPTIONS (user 'postgres', password %s)`, quoteLiteral(shard.Cluster.Password)),
	} {
		a.Exec(t, stmt)
	}
	const fingerprint = `SELECT string_agg(x, ',' ORDER BY x) FROM (
	  SELECT 'rel:' || relname FROM pg_class WHERE relnamespace = 'public'::regnamespace
	  UNION ALL SELECT 'srv:' || srvname FROM pg_foreign_server
	  UNION ALL SELECT 'um:' || srvname || '/' || usename FROM pg_user_mappings
	  UNION ALL SELECT 'ext:' || extname FROM pg_extension
	  UNION ALL SELECT 'ns:' || nspname FROM pg_namespace) s(x)`
	before, err := a.QueryString(fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	steps := badInputSteps(a.ProviderConfig(), true)
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
	after, err := a.QueryString(fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("the bad inputs left objects behind:\nbefore: %s\nafter:  %s", before, after)
	}
	if got, _ := shard.QueryString(`SELECT string_agg(relname, ',') FROM pg_class WHERE relnamespace = 'public'::regnamespace`); got != "partial" {
		t.Fatalf("the shard holds %s, want only partial", got)
	}
	t.Logf("%d bad inputs refused at apply", len(steps))
}

// The guide docs/guides/bad-input.md is generated from the catalog; this keeps the
// template in step (PGSHARD_UPDATE_GUIDES=1 rewrites it).
func TestBadInputGuide_UpToDate(t *testing.T) {
	var b strings.Builder
	b.WriteString(`---
page_title: "Bad input"
subcategory: ""
description: |-
  What the provider refuses, when, and what it says.
---

# Bad input

Every row is a test (` + "`TestBadInputCatalog_Plan`" + ` for the rows caught at plan, with no database at all;
` + "`TestAccBadInputCatalog_Apply`" + ` for the rest): the input is refused with the message shown (a fragment), and
nothing is left half-created. What can be known from the configuration alone is refused by
` + "`terraform plan`" + `; what needs the database (does that role exist?) at apply, before or inside the one
transaction that would create the object.

| resource | input | caught at | message |
|---|---|---|---|
`)
	for _, in := range badInputs {
		when := "plan"
		if in.apply {
			when = "apply"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", in.resource, in.what, when, strings.ReplaceAll(strings.ReplaceAll(in.message, "|", `\|`), "`", "'"))
	}
	want := b.String()
	const path = "../../templates/guides/bad-input.md.tmpl"
	if os.Getenv("PGSHARD_UPDATE_GUIDES") != "" {
		if err := os.MkdirAll("../../templates/guides", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("%s is out of date with the catalog in bad_input_test.go: run PGSHARD_UPDATE_GUIDES=1 go test ./internal/provider -run TestBadInputGuide_UpToDate, then make docs (%v)", path, err)
	}
	if len(badInputs) < 40 {
		t.Fatalf("the catalog has %d rows; keep at least 40", len(badInputs))
	}
}
