package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// canonicalCases are column types and defaults in spellings the server prints otherwise:
// literals of the common types, negative numbers, casts, dates and timestamps in several
// spellings, arrays, expressions, and a NULL default (which PostgreSQL does not store).
var canonicalCases = []struct{ typ, def string }{
	{"integer", "-1"}, {"int4", "(-1)"}, {"int", "+1"}, {"int8", "-9223372036854775808"}, {"smallint", "CAST(1 AS smallint)"},
	{"numeric", "-1.5"}, {"numeric(10,2)", "1.50"}, {"decimal(6)", "-0"}, {"real", "1e3"}, {"float8", "-0.5"}, {"float", "2.5e-3"},
	{"boolean", "TRUE"}, {"bool", "'t'"}, {"bool", "false"},
	{"text", "'x'"}, {"text", "'it''s'"}, {"TEXT", "lower('ABC')"}, {"text", "'a' || 'b'"}, {"varchar(5)", "'ab'"}, {"char(2)", "'ab'"},
	{"character varying", "'x'::text"},
	{"date", "'2020-01-01'"}, {"date", "'Jan 2, 2020'"}, {"date", "CURRENT_DATE"},
	{"timestamptz", "'2020-01-01'"}, {"timestamp with time zone", "'2020-01-01 10:00:00+02'"}, {"timestamptz", "now()"},
	{"timestamp", "'2020-01-01 10:00'"}, {"time", "'10:00'"}, {"interval", "'1 day'"}, {"interval", "'36 hours'::interval"},
	{"uuid", "'00000000-0000-0000-0000-000000000000'"}, {"jsonb", `'{"a": 1}'`}, {"inet", "'10.0.0.1'"},
	{"text[]", "'{a,b}'"}, {"integer[]", "ARRAY[1, 2]"}, {"bigint", "1::bigint"}, {"numeric", "(1 + 2)"},
	{"text", "NULL"}, {"integer", "null"},
}

func canonicalColumnsHCL(withDefaults bool) string { return canonicalHCL(canonicalCases, withDefaults) }

func canonicalHCL(cases []struct{ typ, def string }, withDefaults bool) string {
	var b strings.Builder
	for i, c := range cases {
		def := ""
		if withDefaults {
			def = fmt.Sprintf(", default = %q", c.def)
		}
		fmt.Fprintf(&b, "    { name = \"c%d\", type = %q%s },\n", i, c.typ, def)
	}
	// A generated column, its expression spelled otherwise than the server prints it.
	b.WriteString("    { name = \"g\", type = \"int8\", generated = \"c0*2\" },\n")
	return b.String()
}

// Every value in canonicalCases creates, reads back with the configured spelling (no
// "inconsistent result after apply"), plans nothing, adds in place to an existing table,
// and imports from a table made by hand with a plan that changes nothing.
func TestAccTable_ServerSpellingsPlanNothing(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := func(name, columns string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_table" "t" {
  name          = %q
  columns       = [
%s  ]
}`, name, columns)
	}
	withDefaults := config("spellings", canonicalColumnsHCL(true))
	// A NULL default is no default to PostgreSQL, so an import cannot know it was written.
	stored := canonicalCases[:len(canonicalCases)-2]
	var byHand []string
	for i, c := range stored {
		byHand = append(byHand, fmt.Sprintf("c%d %s DEFAULT %s", i, c.typ, c.def))
	}
	byHand = append(byHand, "g bigint GENERATED ALWAYS AS (c0 * 2) STORED")
	empty := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: withDefaults},
			{Config: withDefaults, ConfigPlanChecks: empty},
			// The same columns added to a table that had none of their defaults.
			{Config: config("added", canonicalColumnsHCL(false))},
			{
				Config: config("added", canonicalColumnsHCL(true)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_table.t", plancheck.ResourceActionUpdate),
				}},
			},
			{Config: config("added", canonicalColumnsHCL(true)), ConfigPlanChecks: empty},
			{
				PreConfig: func() {
					if _, err := a.DB.Exec("CREATE TABLE by_hand (" + strings.Join(byHand, ", ") + ")"); err != nil {
						t.Fatal(err)
					}
				},
				Config:          config("by_hand", canonicalHCL(stored, true)),
				ResourceName:    "pgshard_table.t",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "public.by_hand",
			},
		},
	})
}

// Partition bounds in spellings the server prints otherwise (a timestamptz written as a
// date, minvalue in lower case, integers with a sign or leading zeros, a numeric with
// trailing zeros) create and read back as written, plan nothing, and import with a plan
// that changes nothing.
func TestAccPartition_ServerSpellingsOfBoundsPlanNothing(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := a.ProviderConfig() + `
resource "pgshard_partitioned_table" "events" {
  name         = "events"
  columns      = [{ name = "at", type = "timestamptz" }, { name = "n", type = "integer" }]
  partition_by = { strategy = "range", key = ["at"] }
}

resource "pgshard_partition" "y2020" {
  parent      = pgshard_partitioned_table.events.id
  name        = "events_2020"
  values_from = ["2020-01-01"]
  values_to   = ["2021-01-01 00:00"]
}

resource "pgshard_partition" "old" {
  parent      = pgshard_partitioned_table.events.id
  name        = "events_old"
  values_from = ["minvalue"]
  values_to   = ["2020-01-01T00:00:00Z"]
}

resource "pgshard_partitioned_table" "counts" {
  name         = "counts"
  columns      = [{ name = "k", type = "integer" }, { name = "x", type = "numeric" }]
  partition_by = { strategy = "list", key = ["k"] }
}

resource "pgshard_partition" "small" {
  parent    = pgshard_partitioned_table.counts.id
  name      = "counts_small"
  values_in = ["-1", "+2", "03"]
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					a.ExpectQuery("FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2021-01-01 00:00:00+00')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_2020'`),
					a.ExpectQuery("FOR VALUES IN ('-1', 2, 3)", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'counts_small'`),
				),
			},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{Config: config, ResourceName: "pgshard_partition.y2020", ImportState: true, ImportStateKind: resource.ImportBlockWithID, ImportStateId: "public.events_2020"},
			{Config: config, ResourceName: "pgshard_partition.old", ImportState: true, ImportStateKind: resource.ImportBlockWithID, ImportStateId: "public.events_old"},
			{Config: config, ResourceName: "pgshard_partition.small", ImportState: true, ImportStateKind: resource.ImportBlockWithID, ImportStateId: "public.counts_small"},
		},
	})
}

// A rename is made once: after text is renamed to body, a new column may take the old name
// text while body keeps renamed_from = "text", and no later apply moves values between
// them; a rename whose old name the configuration also keeps is refused at plan.
func TestAccTable_RenameHappensOnce(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := func(columns string) string {
		return a.ProviderConfig() + `
resource "pgshard_table" "t" {
  name          = "renames"
  columns       = [` + columns + `]
  force_destroy = true
}`
	}
	values := a.ExpectQuery("1:old|new", `SELECT string_agg(id || ':' || body || '|' || coalesce(text, ''), ',') FROM renames`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(`{ name = "id", type = "int" }, { name = "text", type = "text" }`),
				Check:  dbChecks(func() error { _, err := a.DB.Exec(`INSERT INTO renames VALUES (1, 'old')`); return err }),
			},
			{
				Config:      config(`{ name = "id", type = "int" }, { name = "text", type = "text" }, { name = "body", type = "text", renamed_from = "text" }`),
				ExpectError: expectError(`column "body" is renamed_from "text", but the configuration also keeps a column "text"`),
			},
			{Config: config(`{ name = "id", type = "int" }, { name = "body", type = "text", renamed_from = "text" }`)},
			{
				Config: config(`{ name = "id", type = "int" }, { name = "body", type = "text", renamed_from = "text" }, { name = "text", type = "text" }`),
				Check:  dbChecks(func() error { _, err := a.DB.Exec(`UPDATE renames SET text = 'new'`); return err }, values),
			},
			// The same configuration again, and with renamed_from left out: nothing changes.
			{
				Config:           config(`{ name = "id", type = "int" }, { name = "body", type = "text", renamed_from = "text" }, { name = "text", type = "text" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            dbChecks(values),
			},
			{
				Config:           config(`{ name = "id", type = "int" }, { name = "body", type = "text" }, { name = "text", type = "text" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            dbChecks(values),
			},
		},
	})
}

// A partition key expression spelled otherwise than the server prints it imports with a
// plan that changes nothing and plans no replace; a key that means another one still
// replaces the table.
func TestAccPartitionedTable_ServerSpellingOfKeyPlansNoReplace(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := func(key string) string {
		return a.ProviderConfig() + `
resource "pgshard_partitioned_table" "t" {
  name         = "keyed"
  columns      = [{ name = "location", type = "text" }, { name = "n", type = "integer" }]
  partition_by = { strategy = "list", key = ["` + key + `"] }
}`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig:          func() { a.Exec(t, `CREATE TABLE keyed (location text, n integer) PARTITION BY LIST (lower(location))`) },
				Config:             config("(LOWER( location ))"),
				ResourceName:       "pgshard_partitioned_table.t",
				ImportState:        true,
				ImportStateId:      "public.keyed",
				ImportStatePersist: true,
			},
			{Config: config("(LOWER( location ))"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{Config: config("(lower(location))"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{
				Config: config("(upper(location))"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_partitioned_table.t", plancheck.ResourceActionReplace),
				}},
				Check: dbChecks(a.ExpectQuery("LIST (upper(location))", `SELECT pg_get_partkeydef('keyed'::regclass)`)),
			},
		},
	})
}
