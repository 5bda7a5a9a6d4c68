package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
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
						"to": knownvalue.StringExact("2026-02-01 00:00:00+00"), "server": knownvalue.StringExact(""), "frozen": knownvalue.Bool(false)})),
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
				// With drop, April's row refuses the plan; nothing changes (the next step drops
				// it with force_destroy, after checking it is still there).
				Config:      timePartitionsConfig(a, "2026-08-15T00:00:00Z", "drop", ""),
				ExpectError: regexp.MustCompile(`(?s)Drop Refused.*tweets_europe_p20260401.*holds 1 rows`),
			},
			{
				PreConfig: func() {
					if got := mustQuery(t, a, `SELECT body FROM ONLY tweets_europe_p20260401`); got != "april" {
						t.Fatalf("after the refused drop, April holds %q", got)
					}
				},
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
			bad(`interval = "1 month"`+"\n  remote_identity = { column = \"id\", start = 1, increment = 1 }", `(?s)Invalid remote_identity.*needs remote_parent`),
			bad(`interval = "1 month"`, `(?s)not partitioned by\s+RANGE on one column`),
		},
	})
}

// tieredEventsConfig is eventsConfig with monthly periods from January 2026 kept around
// asOf, and periods two months old tiered to the archive server.
func tieredEventsConfig(base, archive *accDatabase, asOf string) string {
	return eventsConfig(base, archive, fmt.Sprintf(`
  interval      = "1 month"
  start         = "2026-01-01"
  premake       = 1
  as_of         = %q
  tiers         = [{ after = "2 months", server = pgshard_foreign_server.archive.name }]
  force_destroy = true`, asOf))
}

// eventsConfig is events RANGE (at) on the base with a DEFAULT, the foreign server archive
// (on shard), and pgshard_time_partitions.events with the attributes given.
func eventsConfig(base, shard *accDatabase, attrs string, extra ...string) string {
	return base.ProviderConfig() + strings.Join(extra, "\n") + fmt.Sprintf(`
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  name = "dblink"
}

%s
resource "pgshard_partitioned_table" "events" {
  name = "events"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "at", type = "timestamptz", not_null = true },
    { name = "body", type = "text" },
  ]
  partition_by  = { strategy = "range", key = ["at"] }
  force_destroy = true
}

resource "pgshard_partition" "events_default" {
  parent        = pgshard_partitioned_table.events.id
  name          = "events_default"
  is_default    = true
  force_destroy = true
}

resource "pgshard_time_partitions" "events" {
  parent     = pgshard_partitioned_table.events.id
  %s
  depends_on = [pgshard_partition.events_default, pgshard_user_mapping.archive, pgshard_extension.dblink]
}
`, serverConfig("archive", shard), attrs)
}

const eventPeriods = `SELECT string_agg(c.relname || ' ' || c.relkind::text || coalesce(' ' || s.srvname, ''), '; ' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid LEFT JOIN pg_foreign_server s ON s.oid = ft.ftserver
  WHERE i.inhparent = 'events'::regclass AND NOT c.relname LIKE '%default'`

// A back-filled period already past its tier is made on the archive; a local period that
// ages past it moves there whole, verified, while a reader counts the table throughout and
// never sees a row missing or twice; the plans after are empty and import reads it back.
func TestAccTimePartitions_Tiers(t *testing.T) {
	base := newAccDatabase(t, nil)
	archive := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	tp := "pgshard_time_partitions.events"
	const checksum = `SELECT count(*) || ' ' || sum(hashtext(body)) FROM events WHERE at < '2026-03-01' AND body <> 'late'`
	var reader, probe *concurrentReader
	var late, holder chan error // a write and a read of the tiering period, from the copy on
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: tieredEventsConfig(base, archive, "2026-04-15T00:00:00Z"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("partitions").AtSliceIndex(0).AtMapKey("server"), knownvalue.StringExact("archive")),
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("partitions").AtSliceIndex(1).AtMapKey("server"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(tp, tfjsonpath.New("premade_until"), knownvalue.StringExact("2026-06-01T00:00:00Z")),
				},
				Check: dbChecks(
					base.ExpectQuery("events_p20260101 f archive; events_p20260201 r; events_p20260301 r; events_p20260401 r; events_p20260501 r", eventPeriods),
					func() error {
						_, err := base.DB.Exec(`INSERT INTO events (at, body) SELECT '2026-02-01'::timestamptz + g * interval '1 minute', 'feb ' || g FROM generate_series(0, 19999) g`)
						if err == nil {
							_, err = base.DB.Exec(`INSERT INTO events (at, body) VALUES ('2026-01-05', 'january')`)
						}
						return err
					},
					archive.ExpectQuery("january", `SELECT body FROM public.events_p20260101`),
					base.ExpectQuery("20001 -1", `SELECT count(*) || ' ' || sign(sum(hashtext(body)))::int FROM events WHERE at < '2026-03-01' HAVING true`),
				),
			},
			{Config: tieredEventsConfig(base, archive, "2026-04-15T00:00:00Z"), PlanOnly: true},
			{
				// May 10th: February is two months old and moves to the archive; the
				// table answers the same count and checksum before, during and after.
				PreConfig: func() {
					want, err := base.QueryString(checksum)
					if err != nil {
						t.Fatal(err)
					}
					reader = startConcurrentReader(t, base, checksum, want)
					// A writer whose row of February commits after the tier began, and a reader
					// holding February's lock for six seconds: the row is moved with the others,
					// and a query of another month through the parent never waits for the holder.
					late = whenRunning(t, base, "%pgshard_tier_%", 2*time.Second, `INSERT INTO events (at, body) VALUES ('2026-02-27', 'late')`)
					holder = whenRunning(t, base, "%pgshard_tier_%", 3*time.Second, `SELECT count(*) FROM ONLY events_p20260201`)
					probe = startConcurrentReader(t, base, `SELECT count(*)::text FROM events WHERE at >= '2026-04-01' AND at < '2026-04-02'`, "0")
				},
				Config: tieredEventsConfig(base, archive, "2026-05-10T00:00:00Z"),
				Check: dbChecks(
					func() error { return reader.stop() },
					func() error { return probe.stop() },
					func() error {
						// The late write is refused, naming the freeze, or kept: never lost.
						err := <-late
						if err == nil {
							return base.ExpectQuery("late", `SELECT body FROM events WHERE body = 'late'`)()
						}
						if !strings.Contains(err.Error(), "pgshard_frozen") {
							return fmt.Errorf("the late write failed otherwise: %w", err)
						}
						return <-holder
					},
					base.ExpectQuery("events_p20260101 f archive; events_p20260201 f archive; events_p20260301 r; events_p20260401 r; events_p20260501 r; events_p20260601 r", eventPeriods),
					archive.ExpectQuery("20000", `SELECT count(*) FROM public.events_p20260201 WHERE body <> 'late'`),
					archive.ExpectQuery("1", `SELECT count(*) FROM pg_constraint WHERE conname = 'events_p20260201_bound'`),
					base.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname LIKE 'pgshard_tier%' OR relname LIKE 'pgshard_moving%'`),
					base.ExpectQuery("<none>", `SELECT conname FROM pg_constraint WHERE conname LIKE 'pgshard%'`),
				),
			},
			{Config: tieredEventsConfig(base, archive, "2026-05-10T00:00:00Z"), PlanOnly: true},
			{
				ResourceName: tp, ImportState: true, ImportStateVerify: true, ImportStateId: "public.events",
				ImportStateVerifyIdentifierAttribute: "id", ImportStateVerifyIgnore: []string{"as_of", "tiers", "premake", "start", "force_destroy"},
			},
		},
	})
}

// concurrentReader runs a query over and over until stopped, recording any answer other
// than want and any error, a wait of more than 1.5 s included (the switch waits for its
// locks 50-400 ms at a time, so no reader waits longer behind it).
type concurrentReader struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reads  int
	bad    []string
}

func startConcurrentReader(t *testing.T, a *accDatabase, query, want string) *concurrentReader {
	ctx, cancel := context.WithCancel(t.Context())
	r := &concurrentReader{cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for ctx.Err() == nil {
			var got string
			qctx, qcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			err := a.DB.QueryRowContext(qctx, query).Scan(&got)
			qcancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				r.bad = append(r.bad, err.Error())
			case got != want:
				r.bad = append(r.bad, got)
			}
			r.reads++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(cancel)
	return r
}

// stop ends the reads: an error when any answer was wrong, or when there were none.
func (r *concurrentReader) stop() error {
	r.cancel()
	r.wg.Wait()
	switch {
	case len(r.bad) > 0:
		return fmt.Errorf("%d of %d concurrent reads were wrong, first: %s", len(r.bad), r.reads, r.bad[0])
	case r.reads == 0:
		return fmt.Errorf("no concurrent read ran")
	}
	return nil
}

// Hostile and long names: a parent whose schema and name hold quotes, a space and SQL,
// and a name so long that the period names are cut to 63 bytes, roll and plan empty.
func TestAccTimePartitions_HostileNames(t *testing.T) {
	a := newAccDatabase(t, nil)
	long := "événements_" + strings.Repeat("x", 50) // 62 bytes
	config := func(name string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_time_partitions" "x" {
  parent   = %q
  interval = "1 day"
  premake  = 1
  as_of    = "2026-12-03T12:00:00Z"
}`, `"S p".`+name)
	}
	hostile := `"Ev'il ""x""; DROP TABLE t; --"`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		PreCheck: func() {
			a.Exec(t, `CREATE SCHEMA "S p"`)
			a.Exec(t, `CREATE TABLE "S p".`+hostile+` (at date NOT NULL) PARTITION BY RANGE (at)`)
			a.Exec(t, `CREATE TABLE "S p".`+quoteIdent(long)+` (at timestamp NOT NULL) PARTITION BY RANGE (at)`)
		},
		Steps: []resource.TestStep{
			{
				Config: config(hostile),
				Check: dbChecks(a.ExpectQuery(`Ev'il "x"; DROP TABLE t; --_p20261203 FOR VALUES FROM ('2026-12-03') TO ('2026-12-04'); Ev'il "x"; DROP TABLE t; --_p20261204 FOR VALUES FROM ('2026-12-04') TO ('2026-12-05')`,
					`SELECT string_agg(relname || ' ' || pg_get_expr(relpartbound, oid), '; ' ORDER BY relname) FROM pg_class WHERE relispartition AND relnamespace = '"S p"'::regnamespace`)),
			},
			{Config: config(hostile), PlanOnly: true},
			{
				Config: config(quoteIdent(long)),
				Check: dbChecks(a.ExpectQuery(`63 63 FOR VALUES FROM ('2026-12-03 00:00:00') TO ('2026-12-04 00:00:00')`,
					`SELECT octet_length(relname) || ' ' || octet_length(min(relname) OVER ()) || ' ' || pg_get_expr(relpartbound, oid) FROM pg_class
					 WHERE relispartition AND relnamespace = '"S p"'::regnamespace AND relname LIKE 'év%' ORDER BY relname LIMIT 1`)),
			},
			{Config: config(quoteIdent(long)), PlanOnly: true},
		},
	})
}

// Without as_of, periods are kept around the base's clock, and the next plan is empty
// (the clock moved, the set of periods did not).
func TestAccTimePartitions_Clock(t *testing.T) {
	a := newAccDatabase(t, nil)
	a.Exec(t, `CREATE TABLE yearly (at date NOT NULL) PARTITION BY RANGE (at)`)
	config := a.ProviderConfig() + `
resource "pgshard_time_partitions" "x" {
  parent   = "public.yearly"
  interval = "1 year"
}`
	year := time.Now().UTC().Year()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_time_partitions.x", tfjsonpath.New("premade_until"), knownvalue.StringExact(fmt.Sprintf("%d-01-01T00:00:00Z", year+4))),
				},
				Check: dbChecks(a.ExpectQuery("4", `SELECT count(*) FROM pg_inherits WHERE inhparent = 'yearly'::regclass`)),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// With server and remote_parent, each period is a foreign partition over a partition of
// one partitioned table on the shard: a regional service writes to that one table, the
// shard routes the row, and the base reads it through the period; a roll adds the next
// period on both sides.
func TestAccTimePartitions_RemoteParent(t *testing.T) {
	base := newAccDatabase(t, nil)
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	config := func(asOf string) string {
		return eventsConfig(base, shard, fmt.Sprintf(`
  interval      = "1 month"
  premake       = 1
  as_of         = %q
  server        = pgshard_foreign_server.archive.name
  remote_parent = "events"
  remote_identity = { column = "id", start = 1000000000000, increment = 1 }`, asOf))
	}
	const shardPeriods = `SELECT string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), '; ' ORDER BY c.relname)
	  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.events'::regclass`
	serviceWrites := func(id int, at string) func() error {
		return func() error {
			_, err := shard.DB.Exec(`INSERT INTO events (id, at, body) VALUES ($1, $2, 'from the api')`, id, at)
			return err
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("2026-12-03T00:00:00Z"),
				Check: dbChecks(
					base.ExpectQuery("events_p20261201 f archive; events_p20270101 f archive", eventPeriods),
					shard.ExpectQuery("events_p20261201 FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00'); "+
						"events_p20270101 FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')", shardPeriods),
					serviceWrites(1, "2026-12-10 12:00+00"),
					base.ExpectQuery("from the api", `SELECT body FROM events WHERE id = 1`),
					func() error {
						_, err := base.DB.Exec(`INSERT INTO events (id, at, body) VALUES (2, '2027-01-02', 'through the base')`)
						return err
					},
					shard.ExpectQuery("through the base", `SELECT body FROM events WHERE id = 2`),
					// A service that leaves the id out gets one of the shard's own range.
					shard.ExpectQuery("1000000000000", `INSERT INTO events (at, body) VALUES ('2026-12-11', 'no id') RETURNING id`),
					base.ExpectQuery("no id", `SELECT body FROM events WHERE id = 1000000000000`),
				),
			},
			{Config: config("2026-12-03T00:00:00Z"), PlanOnly: true},
			{
				Config: config("2027-01-15T00:00:00Z"),
				Check: dbChecks(
					base.ExpectQuery("events_p20261201 f archive; events_p20270101 f archive; events_p20270201 f archive", eventPeriods),
					serviceWrites(3, "2027-02-20"),
					base.ExpectQuery("4", `SELECT count(*) FROM events`),
				),
			},
			{Config: config("2027-01-15T00:00:00Z"), PlanOnly: true},
		},
	})
}

// A period on a region's shard (remote_parent) tiers to a cold server: frozen on the region
// while it is copied, switched, its old shard table dropped; the table reads the same
// throughout; the region's service keeps writing its other months. A freeze an interrupted
// tier left shows in the plan (frozen) and the apply lifts it.
func TestAccTimePartitions_TierForeign(t *testing.T) {
	base := newAccDatabase(t, nil)
	region := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	cold := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard2 })
	coldServer := serverConfig("cold", cold)
	config := func(asOf string) string {
		return eventsConfig(base, region, fmt.Sprintf(`
  interval      = "1 month"
  start         = "2026-10-01"
  premake       = 1
  as_of         = %q
  server        = pgshard_foreign_server.archive.name
  remote_parent = "events"
  tiers         = [{ after = "1 month", server = pgshard_user_mapping.cold.server }]
  force_destroy = true`, asOf), coldServer)
	}
	const checksum = `SELECT count(*) || ' ' || sum(hashtext(body)) FROM events WHERE at < '2026-12-01'`
	var reader *concurrentReader
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("2026-12-03T00:00:00Z"),
				Check: dbChecks(
					base.ExpectQuery("events_p20261001 f cold; events_p20261101 f archive; events_p20261201 f archive; events_p20270101 f archive", eventPeriods),
					func() error {
						_, err := region.DB.Exec(`INSERT INTO events (id, at, body) SELECT g, '2026-11-01'::timestamptz + g * interval '1 second', 'nov ' || g FROM generate_series(1, 5000) g`)
						return err
					},
				),
			},
			{Config: config("2026-12-03T00:00:00Z"), PlanOnly: true},
			{
				PreConfig: func() {
					want, err := base.QueryString(checksum)
					if err != nil || want != "5000 "+mustQuery(t, region, `SELECT sum(hashtext(body))::text FROM events`) {
						t.Fatalf("before the tier: %s, %v", want, err)
					}
					reader = startConcurrentReader(t, base, checksum, want)
				},
				Config: config("2027-01-10T00:00:00Z"),
				Check: dbChecks(
					func() error { return reader.stop() },
					base.ExpectQuery("events_p20261001 f cold; events_p20261101 f cold; events_p20261201 f archive; events_p20270101 f archive; events_p20270201 f archive", eventPeriods),
					cold.ExpectQuery("5000", `SELECT count(*) FROM public.events_p20261101`),
					region.ExpectQuery("<null>", `SELECT to_regclass('public.events_p20261101')::text`),
					func() error {
						_, err := region.DB.Exec(`INSERT INTO events (id, at, body) VALUES (9001, '2026-12-24', 'december')`)
						return err
					},
					base.ExpectQuery("december", `SELECT body FROM events WHERE id = 9001`),
				),
			},
			{Config: config("2027-01-10T00:00:00Z"), PlanOnly: true},
			{
				// A tier killed after the freeze: the plan shows it, the apply lifts it.
				PreConfig: func() {
					region.Exec(t, `CREATE TRIGGER pgshard_frozen BEFORE INSERT OR UPDATE OR DELETE ON public.events_p20261201 FOR EACH ROW EXECUTE FUNCTION public.pgshard_refuse_writes()`)
					base.Exec(t, `COMMENT ON FOREIGN TABLE events_p20261201 IS 'pgshard: tiering; its shard table refuses writes until the tier ends'`)
					if _, err := region.DB.Exec(`INSERT INTO events (id, at, body) VALUES (9002, '2026-12-25', 'refused')`); err == nil || !strings.Contains(err.Error(), "is moving to another server") {
						t.Fatalf("a frozen period took a write: %v", err)
					}
				},
				Config: config("2027-01-10T00:00:00Z"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_time_partitions.events", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(
					func() error {
						_, err := region.DB.Exec(`INSERT INTO events (id, at, body) VALUES (9002, '2026-12-25', 'taken')`)
						return err
					},
					base.ExpectQuery("taken", `SELECT body FROM events WHERE id = 9002`),
				),
			},
			{Config: config("2027-01-10T00:00:00Z"), PlanOnly: true},
			{
				// A tier whose drop of the old shard table failed, or was killed before it:
				// the switch's mark shows the period frozen, and the apply drops the table.
				PreConfig: func() {
					region.Exec(t, `CREATE TABLE public.leftover (id bigint, at timestamptz, body text)`)
					region.Exec(t, `INSERT INTO public.leftover VALUES (1, '2026-11-02', 'a'), (2, '2026-11-03', 'b')`)
					region.Exec(t, `CREATE TRIGGER pgshard_frozen BEFORE INSERT OR UPDATE OR DELETE ON public.leftover FOR EACH ROW EXECUTE FUNCTION public.pgshard_refuse_writes()`)
					region.Exec(t, `ALTER TABLE public.leftover ENABLE ALWAYS TRIGGER pgshard_frozen`)
					base.Exec(t, `COMMENT ON FOREIGN TABLE events_p20261101 IS 'pgshard: old shard table to drop: {"server":"archive","schema":"public","table":"leftover","rows":2}'`)
				},
				Config: config("2027-01-10T00:00:00Z"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_time_partitions.events", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(
					region.ExpectQuery("<null>", `SELECT to_regclass('public.leftover')::text`),
					base.ExpectQuery("<none>", `SELECT description FROM pg_description WHERE description LIKE 'pgshard%'`),
					cold.ExpectQuery("5000", `SELECT count(*) FROM public.events_p20261101`),
				),
			},
			{Config: config("2027-01-10T00:00:00Z"), PlanOnly: true},
		},
	})
}

// whenRunning waits, in the background, until a session of a's database runs a query like
// pattern, then runs stmt in a transaction that it commits after hold; the channel says how
// it went (the statement's error, or the commit's).
func whenRunning(t *testing.T, a *accDatabase, pattern string, hold time.Duration, stmt string) chan error {
	done := make(chan error, 1)
	ctx := t.Context()
	go func() {
		for {
			var n int
			err := a.DB.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE $1`, pattern).Scan(&n)
			if err != nil {
				done <- err
				return
			}
			if n > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		tx, err := a.DB.BeginTx(ctx, nil)
		if err == nil {
			_, err = tx.ExecContext(ctx, stmt)
		}
		if err != nil {
			if tx != nil {
				_ = tx.Rollback()
			}
			done <- err
			return
		}
		time.Sleep(hold)
		done <- tx.Commit()
	}()
	return done
}

// serverConfig is the foreign server name, with a user mapping, on a's database.
func serverConfig(name string, a *accDatabase) string {
	return fmt.Sprintf(`
resource "pgshard_foreign_server" %[1]q {
  name       = %[1]q
  host       = %[2]q
  port       = %[3]d
  dbname     = %[4]q
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" %[1]q {
  server   = pgshard_foreign_server.%[1]s.name
  user     = "postgres"
  password = %[5]q
}
`, name, a.Cluster.Host, a.Cluster.Port, a.Name, a.Cluster.Password)
}

func mustQuery(t *testing.T, a *accDatabase, q string) string {
	t.Helper()
	s, err := a.QueryString(q)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A tier whose server reaches the database the period is already in (two servers, one
// database) would copy the table onto itself and drop it: it is refused, naming both, the
// freeze is lifted and the rows stay.
func TestAccTimePartitions_TierSameDatabase(t *testing.T) {
	base := newAccDatabase(t, nil)
	region := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	sameServer := serverConfig("cold", region)
	config := func(asOf string) string {
		return eventsConfig(base, region, fmt.Sprintf(`
  interval      = "1 month"
  premake       = 0
  as_of         = %q
  server        = pgshard_foreign_server.archive.name
  tiers         = [{ after = "1 month", server = pgshard_user_mapping.cold.server }]
  force_destroy = true`, asOf), sameServer)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("2026-11-15T00:00:00Z"),
				Check: dbChecks(func() error {
					_, err := base.DB.Exec(`INSERT INTO events (id, at, body) SELECT g, '2026-11-02', 'kept' FROM generate_series(1, 50) g`)
					return err
				}),
			},
			{
				Config:      config("2027-01-10T00:00:00Z"),
				ExpectError: regexp.MustCompile(`(?s)events_p20261101 on server cold is.*own table`),
			},
			{
				// A step's checks do not run after an expected error: the next apply (no
				// change) checks that nothing moved.
				Config: config("2026-11-15T00:00:00Z"),
				Check: dbChecks(
					region.ExpectQuery("50", `SELECT count(*) FROM public.events_p20261101`),
					region.ExpectQuery("0", `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgshard_frozen%'`),
					base.ExpectQuery("<none>", `SELECT description FROM pg_description WHERE description LIKE 'pgshard%'`),
					base.ExpectQuery("50", `SELECT count(*) FROM events`),
				),
			},
		},
	})
}
