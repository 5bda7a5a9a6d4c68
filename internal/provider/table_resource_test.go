package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

const columnsQuery = `SELECT string_agg(format('%s %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')), ', ' ORDER BY a.attnum)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`

// A shard table managed directly (through a provider pointed at the shard): columns and
// primary key change in place; equivalent spellings plan nothing.
func TestAccTable(t *testing.T) {
	a := newAccDatabase(t, nil)
	const addr = "pgshard_table.shard"
	config := func(columns, pk string) string {
		return a.ProviderConfig() + `
resource "pgshard_table" "shard" {
  name        = "europe_tweets"
  columns     = [` + columns + `]
  primary_key = ` + pk + `
  force_destroy = true
}`
	}
	v1 := `
    { name = "id", type = "bigserial" },
    { name = "location", type = "varchar(20)", not_null = true, default = "'europe'" },
    { name = "text", type = "text" },`
	same := `
    { name = "id", type = "serial8" },
    { name = "location", type = "character varying(20)", not_null = true, default = "'europe'::character varying" },
    { name = "text", type = "TEXT" },`
	v2 := `
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true, default = "'eu'" },
    { name = "like_count", type = "int4", not_null = true, default = "0" },
    { name = "tags", type = "text[]" },`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname = 'europe_tweets'`)),
		Steps: []resource.TestStep{
			{
				Config: config(v1, `["id"]`),
				Check: dbChecks(a.ExpectQuery(
					"id bigint not null default nextval('europe_tweets_id_seq'::regclass), location character varying(20) not null default 'europe'::character varying, text text",
					columnsQuery, "europe_tweets")),
			},
			// Import reads the catalog spelling, which the next step proves equivalent.
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"columns.1.default", "columns.1.type", "force_destroy"}},
			{
				Config: config(same, `["id"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				PreConfig: func() { a.Exec(t, `INSERT INTO europe_tweets (text) VALUES ('kept')`) },
				Config:    config(v2, `["id", "location"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					a.ExpectQuery("id bigint not null default nextval('europe_tweets_id_seq'::regclass), location text not null default 'eu'::text, like_count integer not null default 0, tags text[]",
						columnsQuery, "europe_tweets"),
					a.ExpectQuery("{id,location}", `SELECT array_agg(a.attname ORDER BY k.o)::text FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(n, o), pg_attribute a WHERE c.conrelid = 'europe_tweets'::regclass AND c.contype = 'p' AND a.attrelid = c.conrelid AND a.attnum = k.n`),
					a.ExpectQuery("1", `SELECT count(*) FROM europe_tweets`),
				),
			},
			{
				// A column dropped out of band is added back in place.
				PreConfig: func() { a.Exec(t, `ALTER TABLE europe_tweets DROP COLUMN tags`) },
				Config:    config(v2, `["id", "location"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(a.ExpectQuery("1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'europe_tweets'::regclass AND attname = 'tags'`)),
			},
		},
	})
}

func TestAccTablePlanTimeErrors(t *testing.T) {
	a := newAccDatabase(t, nil)
	table := func(columns, extra string) string {
		return a.ProviderConfig() + `
resource "pgshard_partitioned_table" "bad" {
  name    = "bad"
  columns = [` + columns + `]
  ` + extra + `
}`
	}
	ok := `{ name = "id", type = "int" }, { name = "location", type = "text" }`
	cases := []struct{ columns, extra, want string }{
		{ok, `partition_by = { strategy = "list", key = ["region"] }`, `The partition key "region" names no column`},
		{ok, `partition_by = { strategy = "round-robin", key = ["id"] }`, `strategy.*value must be one of`},
		{`{ name = "id", type = "int" }, { name = "id", type = "text" }`, `partition_by = { strategy = "list", key = ["id"] }`, `The column name "id" appears more than once`},
		{`{ name = "id", type = "int; DROP TABLE x" }`, `partition_by = { strategy = "list", key = ["id"] }`, `is not a PostgreSQL type name`},
		{`{ name = "id", type = "int", default = "0); DROP TABLE x; --" }`, `partition_by = { strategy = "list", key = ["id"] }`, `Invalid SQL Expression`},
		{ok, `partition_by = { strategy = "list", key = ["(lower(location)"] }`, `unbalanced parentheses`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: table(c.columns, c.extra), PlanOnly: true, ExpectError: expectError(c.want)})
	}
	partition := func(body string) string {
		return a.ProviderConfig() + `
resource "pgshard_partition" "bad" {
  parent = "public.tweets"
  name   = "bad"
  ` + body + `
}`
	}
	for _, c := range []struct{ body, want string }{
		{`values_in = []`, `values_in list must contain at least 1 elements`},
		{`values_in = ["a", "a"]`, `This attribute contains duplicate values`},
		{"values_in = [\"a\"]\n  is_default = true", `Conflicting Partition Bounds`},
		{`modulus = 0` + "\n  remainder = 0", `modulus value must be at least 1`},
		{`modulus = 4` + "\n  remainder = 4", `remainder is 4 but must be less than modulus \(4\)`},
		{``, `Missing Partition Bound`},
		{`is_default = false`, `is_default = false is not a bound`},
		{`values_from = ["1"]`, `A RANGE bound needs both values_from and values_to`},
	} {
		steps = append(steps, resource.TestStep{Config: partition(c.body), PlanOnly: true, ExpectError: expectError(c.want)})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}
