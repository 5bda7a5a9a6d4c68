package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// Local partitions: range bounds changed in place, and destroy refuses to lose rows
// unless force_destroy is set, for a partition and for a parent.
func TestAccPartition_ForceDestroy(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := func(bound, parentExtra, partExtra string) string {
		return a.ProviderConfig() + `
resource "pgshard_partitioned_table" "events" {
  name = "events"
  columns = [
    { name = "day", type = "date", not_null = true },
    { name = "what", type = "text" },
  ]
  partition_by = { strategy = "range", key = ["day"] }
  ` + parentExtra + `
}

resource "pgshard_partition" "y2024" {
  parent = pgshard_partitioned_table.events.id
  name   = "events_2024"
  ` + bound + `
  ` + partExtra + `
}`
	}
	y2024 := `values_from = ["2024-01-01"]
  values_to   = ["2025-01-01"]`
	wider := `values_from = ["MINVALUE"]
  values_to   = ["2025-01-01"]`
	parentOnly := a.ProviderConfig() + `
resource "pgshard_partitioned_table" "events" {
  name = "events"
  columns = [
    { name = "day", type = "date", not_null = true },
    { name = "what", type = "text" },
  ]
  partition_by = { strategy = "range", key = ["day"] }
}`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname LIKE 'events%'`)),
		Steps: []resource.TestStep{
			{
				Config: config(y2024, "", ""),
				Check: dbChecks(
					a.ExpectQuery("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_2024'`),
					func() error { _, err := a.DB.Exec(`INSERT INTO events VALUES ('2024-06-01', 'x')`); return err },
				),
			},
			{ResourceName: "pgshard_partition.y2024", ImportState: true, ImportStateVerify: true},
			{
				Config: config(wider, "", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_partition.y2024", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					a.ExpectQuery("FOR VALUES FROM (MINVALUE) TO ('2025-01-01')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_2024'`),
					a.ExpectQuery("1", `SELECT count(*) FROM events`),
				),
			},
			{
				// A bound that would leave a row outside is refused at plan, naming the count, and nothing changes.
				Config:      config(`values_from = ["2024-07-01"]`+"\n"+`values_to = ["2025-01-01"]`, "", ""),
				ExpectError: expectError(`Partition Bound Change Refused.*1 rows of public.events_2024 fall outside the new bound.*move_to_default`),
			},
			{
				Config: parentOnly,
				// It names the rest of a whole-stack teardown too, which Terraform plans only after it.
				ExpectError: expectError(`Partition Destroy Refused.*public.events_2024 \(1 rows\).*force_destroy = true.*Destroying the whole stack\?.*pgshard_partitioned_table.*on_rows_outside_bound = "fail".*Teardown guide`),
			},
			{
				// The partition is still there with its row.
				Config:   config(wider, "", ""),
				PlanOnly: true,
				Check:    dbChecks(a.ExpectQuery("1", `SELECT count(*) FROM events_2024`)),
			},
			{
				// force_destroy is an in-place change of the partition.
				Config: config(wider, "", "force_destroy = true"),
			},
			{
				// A parent whose partition (created by hand) holds rows is refused.
				PreConfig: func() {
					a.Exec(t, `CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`)
					a.Exec(t, `INSERT INTO events VALUES ('2025-02-03', 'kept')`)
				},
				Config:      a.ProviderConfig(),
				ExpectError: expectError(`Partitioned Table Destroy Refused.*public.events_2025 \(1 rows\)`),
			},
			{
				// With force_destroy the parent goes, with the rows of its local partitions
				// (kept by the refused destroy: a step's checks do not run after an expected
				// error, so they are checked here).
				PreConfig: func() {
					if err := a.ExpectQuery("kept", `SELECT what FROM events_2025`)(); err != nil {
						t.Fatal(err)
					}
				},
				Config: strings.Replace(parentOnly, `partition_by = { strategy = "range", key = ["day"] }`, "partition_by = { strategy = \"range\", key = [\"day\"] }\n  force_destroy = true", 1),
			},
		},
	})
}

// A partition whose bound takes rows already in DEFAULT, or overlaps another, fails at
// apply with the reason and a hint, and leaves nothing behind.
func TestAccPartition_BoundConflicts(t *testing.T) {
	a := newAccDatabase(t, nil)
	base := a.ProviderConfig() + `
resource "pgshard_partitioned_table" "t" {
  name          = "t"
  columns       = [{ name = "location", type = "text" }]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}

resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.t.id
  name          = "t_default"
  is_default    = true
  force_destroy = true
}

resource "pgshard_partition" "europe" {
  parent    = pgshard_partitioned_table.t.id
  name      = "t_europe"
  values_in = ["europe"]
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: base,
				Check: dbChecks(func() error {
					_, err := a.DB.Exec(`INSERT INTO t VALUES ('asia'), ('asia'), ('mars')`)
					return err
				}),
			},
			{
				Config: base + `
resource "pgshard_partition" "asia" {
  parent    = pgshard_partitioned_table.t.id
  name      = "t_asia"
  values_in = ["asia"]
}`,
				ExpectError: expectError(`2 rows in the DEFAULT partition public.t_default match its bound \(FOR VALUES IN \('asia'\)\)`),
			},
			{
				Config: base + `
resource "pgshard_partition" "eu2" {
  parent    = pgshard_partitioned_table.t.id
  name      = "t_eu2"
  values_in = ["eu", "europe"]
}`,
				ExpectError: expectError(`would overlap partition "t_europe".*must not overlap`),
			},
			{
				Config:   base,
				PlanOnly: true,
				Check:    dbChecks(a.ExpectQuery("0", `SELECT count(*) FROM pg_class WHERE relname IN ('t_asia', 't_eu2')`)),
			},
		},
	})
}
