package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const columnsQuery = `SELECT string_agg(format('%s %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')), ', ' ORDER BY a.attnum)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`

// A shard table managed directly (through a provider pointed at the shard): columns and
// primary key change in place; equivalent spellings plan nothing.
func TestAccTable_Lifecycle(t *testing.T) {
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

// The tutorial's table made by hand (`id serial4 NOT NULL`, a primary key) imports with an
// empty plan whether the configuration writes not_null = true or leaves it out.
func TestAccTable_ImportImpliedNotNull(t *testing.T) {
	a := newAccDatabase(t, nil)
	a.Exec(t, `CREATE TABLE tweets (id serial4 NOT NULL, code int4, text text, PRIMARY KEY (id, code))`)
	a.Exec(t, `CREATE TABLE ptweets (id serial4 NOT NULL, location varchar NOT NULL, text text) PARTITION BY LIST (location)`)
	config := func(notNull string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "serial4" %[1]s },
    { name = "code", type = "int4" %[1]s },
    { name = "text", type = "text" },
  ]
  primary_key = ["id", "code"]
}

resource "pgshard_partitioned_table" "tweets" {
  name = "ptweets"
  columns = [
    { name = "id", type = "serial4" %[1]s },
    { name = "location", type = "varchar", not_null = true },
    { name = "text", type = "text" },
  ]
  partition_by = { strategy = "list", key = ["location"] }
}
`, notNull)
	}
	written, omitted := config(", not_null = true"), config("")
	var steps []resource.TestStep
	for addr, id := range map[string]string{"pgshard_table.tweets": "public.tweets", "pgshard_partitioned_table.tweets": "ptweets"} {
		steps = append(steps, resource.TestStep{Config: written, ResourceName: addr, ImportState: true, ImportStateId: id, ImportStatePersist: true})
	}
	steps = append(steps,
		resource.TestStep{Config: written, PlanOnly: true},
		resource.TestStep{Config: written, ResourceName: "pgshard_table.tweets", ImportState: true, ImportStateVerify: true},
		resource.TestStep{Config: written, ResourceName: "pgshard_partitioned_table.tweets", ImportState: true, ImportStateVerify: true},
		resource.TestStep{Config: omitted, PlanOnly: true},
	)
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// Omitted not_null is planned known: true for serial and primary key columns, false for the
// rest; a second plan is empty.
func TestAccTable_ImpliedNotNullPlanned(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := a.ProviderConfig() + `
resource "pgshard_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "code", type = "int4" },
    { name = "text", type = "text" },
    { name = "pinned", type = "serial", not_null = false },
  ]
  primary_key = ["code"]
}
`
	notNull := func(i int) tfjsonpath.Path { return tfjsonpath.New("columns").AtSliceIndex(i).AtMapKey("not_null") }
	const addr = "pgshard_table.tweets"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(addr, notNull(0), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(addr, notNull(1), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(addr, notNull(2), knownvalue.Bool(false)),
					plancheck.ExpectKnownValue(addr, notNull(3), knownvalue.Bool(false)),
				}},
				Check: dbChecks(a.ExpectQuery("id bigint not null default nextval('tweets_id_seq'::regclass), code integer not null, text text, pinned integer not null default nextval('tweets_pinned_seq'::regclass)",
					columnsQuery, "tweets")),
			},
			{Config: config, PlanOnly: true},
		},
	})
}
