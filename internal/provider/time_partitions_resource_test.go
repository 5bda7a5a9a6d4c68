package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// timePartitionsConfig is tweets LIST (location), tweets_europe RANGE (created_at) under
// it with a DEFAULT partition, and monthly periods of tweets_europe kept around asOf with
// the given retention action.
func timePartitionsConfig(a *accDatabase, asOf, action, extra string) string {
	return subPartitionTree(a, "parent = pgshard_partitioned_table.tweets.id\n  values_in = [\"europe\"]\n  force_destroy = true", "") + fmt.Sprintf(`
resource "pgshard_partition" "europe_default" {
  parent        = pgshard_partitioned_table.europe.id
  name          = "tweets_europe_default"
  is_default    = true
  force_destroy = true
}

resource "pgshard_time_partitions" "europe" {
  parent    = pgshard_partitioned_table.europe.id
  interval  = "1 month"
  premake   = 2
  as_of     = %q
  retention = { after = "3 months", action = %q }
  %s
  depends_on = [pgshard_partition.europe_default, pgshard_partition.europe_2024]
}
`, asOf, action, extra)
}

// periodsOfEurope lists tweets_europe's partitions with their bounds.
const periodsOfEurope = `SELECT string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), '; ' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tweets_europe'::regclass AND c.relname LIKE '%_p2026%'`

const periodNames = `SELECT string_agg(c.relname, ' ' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tweets_europe'::regclass AND c.relname LIKE '%_p2026%'`

// Periods are made ahead of as_of, under a sub-partitioned region; import reads them back;
// moving as_of makes the next ones, filling a period missed meanwhile and moving into it
// the rows that waited in DEFAULT; retention detaches old periods (kept as tables, rows
// and all), and a drop of a period holding rows is refused at plan unless force_destroy.
func TestAccTimePartitions_Roll(t *testing.T) {
	a := newAccDatabase(t, nil)
	tp := "pgshard_time_partitions.europe"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname LIKE 'tweets%' AND relname NOT IN ('tweets_europe_p20260101', 'tweets_europe_p20260201')`)),
		Steps: []resource.TestStep{
			{
				Config: timePartitionsConfig(a, "2026-01-15T10:00:00Z", "detach", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("partitions"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("partitions").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name": knownvalue.StringExact("tweets_europe_p20260101"), "from": knownvalue.StringExact("2026-01-01 00:00:00+00"),
						"to": knownvalue.StringExact("2026-02-01 00:00:00+00"), "server": knownvalue.StringExact("")})),
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("premade_until"), knownvalue.StringExact("2026-04-01T00:00:00Z")),
				},
				Check: dbChecks(
					a.ExpectQuery("tweets_europe_p20260101 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00'); "+
						"tweets_europe_p20260201 FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00'); "+
						"tweets_europe_p20260301 FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00')", periodsOfEurope),
					func() error {
						_, err := a.DB.Exec(`INSERT INTO tweets VALUES ('europe', '2026-02-10 12:00+00', 'february'), ('europe', '2026-04-20 23:00-05', 'april')`)
						return err
					},
					a.ExpectQuery("february", `SELECT body FROM ONLY tweets_europe_p20260201`),
					a.ExpectQuery("april", `SELECT body FROM ONLY tweets_europe_default`),
				),
			},
			{Config: timePartitionsConfig(a, "2026-01-15T10:00:00Z", "detach", ""), PlanOnly: true},
			{
				ResourceName: tp, ImportState: true, ImportStateVerify: true, ImportStateId: "public.tweets_europe",
				ImportStateVerifyIdentifierAttribute: "id", ImportStateVerifyIgnore: []string{"as_of", "retention", "premake"},
			},
			{
				// Two months on (no apply in between): April, missed, is made with its row
				// from DEFAULT, and May; nothing is past retention yet.
				Config: timePartitionsConfig(a, "2026-03-20T00:00:00Z", "detach", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tp, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("premade_until"), knownvalue.StringExact("2026-06-01T00:00:00Z")),
				},
				Check: dbChecks(
					a.ExpectQuery("tweets_europe_p20260101 tweets_europe_p20260201 tweets_europe_p20260301 tweets_europe_p20260401 tweets_europe_p20260501", periodNames),
					a.ExpectQuery("april", `SELECT body FROM ONLY tweets_europe_p20260401`),
					a.ExpectQuery("0", `SELECT count(*) FROM ONLY tweets_europe_default`),
				),
			},
			{Config: timePartitionsConfig(a, "2026-03-20T00:00:00Z", "detach", ""), PlanOnly: true},
			{
				// Out of band, a period is detached and gets a row outside it: the attach is
				// refused, naming it, and nothing changes.
				PreConfig: func() {
					a.Exec(t, `ALTER TABLE tweets_europe DETACH PARTITION tweets_europe_p20260501`)
					a.Exec(t, `INSERT INTO tweets_europe_p20260501 VALUES ('europe', '2026-05-02', 'may'), ('europe', '2026-06-02', 'stray')`)
				},
				Config:      timePartitionsConfig(a, "2026-03-20T00:00:00Z", "detach", ""),
				ExpectError: regexp.MustCompile(`(?s)tweets_europe_p20260501" holds\s+rows outside the bound.*nothing was\s+changed`),
			},
			{
				// Without it, the period is attached again with its rows.
				PreConfig: func() { a.Exec(t, `DELETE FROM tweets_europe_p20260501 WHERE body = 'stray'`) },
				Config:    timePartitionsConfig(a, "2026-03-20T00:00:00Z", "detach", ""),
				Check: dbChecks(
					a.ExpectQuery("tweets_europe_p20260101 tweets_europe_p20260201 tweets_europe_p20260301 tweets_europe_p20260401 tweets_europe_p20260501", periodNames),
					a.ExpectQuery("may", `SELECT body FROM tweets WHERE created_at = '2026-05-02'`),
				),
			},
			{
				// June 15th: periods ending by March 15th go; February, with its row, is
				// detached and kept as a table.
				Config: timePartitionsConfig(a, "2026-06-15T00:00:00Z", "detach", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("detached"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("tweets_europe_p20260101"), knownvalue.StringExact("tweets_europe_p20260201")})),
				},
				Check: dbChecks(
					a.ExpectQuery("tweets_europe_p20260301 tweets_europe_p20260401 tweets_europe_p20260501 tweets_europe_p20260601 tweets_europe_p20260701 tweets_europe_p20260801", periodNames),
					a.ExpectQuery("february false", `SELECT body || ' ' || relispartition FROM tweets_europe_p20260201, pg_class WHERE relname = 'tweets_europe_p20260201'`),
				),
			},
			{
				// With drop, April's row refuses the plan; nothing changes.
				Config:      timePartitionsConfig(a, "2026-08-15T00:00:00Z", "drop", ""),
				ExpectError: regexp.MustCompile(`(?s)Drop Refused.*tweets_europe_p20260401.*holds 1 rows`),
				Check:       dbChecks(a.ExpectQuery("april", `SELECT body FROM ONLY tweets_europe_p20260401`)),
			},
			{
				Config: timePartitionsConfig(a, "2026-08-15T00:00:00Z", "drop", "force_destroy = true"),
				Check: dbChecks(
					a.ExpectQuery("tweets_europe_p20260501 tweets_europe_p20260601 tweets_europe_p20260701 tweets_europe_p20260801 tweets_europe_p20260901 tweets_europe_p20261001", periodNames),
					a.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname IN ('tweets_europe_p20260301', 'tweets_europe_p20260401')`),
				),
			},
			{Config: timePartitionsConfig(a, "2026-08-15T00:00:00Z", "drop", "force_destroy = true"), PlanOnly: true},
		},
	})
}

// A parent not split by RANGE on a time column, and bad values, are refused at plan, naming
// the attribute and the fix.
func TestAccTimePartitions_Validation(t *testing.T) {
	a := newAccDatabase(t, nil)
	bad := func(attrs, want string) resource.TestStep {
		return resource.TestStep{
			Config: a.ProviderConfig() + `
resource "pgshard_time_partitions" "x" {
  parent = "public.tweets"
  ` + attrs + `
}`,
			ExpectError: regexp.MustCompile(want),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		PreCheck: func() {
			a.Exec(t, `CREATE TABLE tweets (location text, created_at timestamptz) PARTITION BY LIST (location)`)
		},
		Steps: []resource.TestStep{
			bad(`interval = "1 hour"`, `(?s)Invalid interval.*"1 hour".*whole number of days`),
			bad(`interval = "1 month"`+"\n  start = \"2026-01-15\"", `(?s)Invalid start.*first day of a month`),
			bad(`interval = "1 month"`+"\n  as_of = \"yesterday\"", `(?s)Invalid as_of.*RFC 3339`),
			bad(`interval = "1 month"`+"\n  retention = { after = \"1 fortnight\", action = \"detach\" }", `(?s)Invalid retention.after`),
			bad(`interval = "1 month"`+"\n  retention = { after = \"1 year\", action = \"archive\" }", `(?s)retention.action.*value must be one of`),
			bad(`interval = "1 month"`, `(?s)not partitioned by\s+RANGE on one column`),
		},
	})
}
