package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// moveShard is one shard of a resharding test: a database, the keys it holds, and what it
// declares depends_on.
type moveShard struct {
	key       string // resource and server name
	db        *accDatabase
	values    []string
	dependsOn string // another shard's key
	onRows    string // on_rows_outside_bound
}

func moveConfig(base *accDatabase, shards []moveShard, force bool) string {
	var b strings.Builder
	b.WriteString(base.ProviderConfig())
	fmt.Fprintf(&b, `
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  name = "dblink"
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigint" },
    { name = "location", type = "text", not_null = true },
    { name = "body", type = "text" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = %t
}

resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_default"
  is_default    = true
  force_destroy = %t
}
`, force, force)
	for _, s := range shards {
		values := make([]string, len(s.values))
		for i, v := range s.values {
			values[i] = fmt.Sprintf("%q", v)
		}
		depends := "pgshard_user_mapping." + s.key + ", pgshard_extension.dblink"
		if s.dependsOn != "" {
			depends += ", pgshard_foreign_partition." + s.dependsOn
		}
		onRows := s.onRows
		if onRows == "" {
			onRows = "move_to_default"
		}
		fmt.Fprintf(&b, `
resource "pgshard_foreign_server" "%[1]s" {
  name       = "%[1]s"
  host       = %[2]q
  port       = %[3]d
  dbname     = %[4]q
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" "%[1]s" {
  server   = pgshard_foreign_server.%[1]s.name
  user     = "postgres"
  password = %[5]q
}

resource "pgshard_foreign_partition" "%[1]s" {
  parent                 = pgshard_partitioned_table.tweets.id
  name                   = "%[1]s_tweets"
  server                 = pgshard_foreign_server.%[1]s.name
  values_in              = [%[6]s]
  create_remote_table    = true
  move_rows_from_default = true
  on_rows_outside_bound  = %[7]q
  depends_on             = [%[8]s]
}
`, s.key, s.db.Cluster.Host, s.db.Cluster.Port, s.db.Name, s.db.Cluster.Password, strings.Join(values, ", "), onRows, depends)
	}
	return b.String()
}

// Keys move between shards through DEFAULT, in one apply each, with every row present
// exactly once through the parent and the same checksum before and after: a key moved
// between two existing shards, a split (a new shard takes a key of an existing one), a merge
// (a shard goes, its keys move to another). A stack destroy that would pull shard rows into
// a DEFAULT partition it also drops is refused at plan.
func TestAccForeignPartition_MoveKeysBetweenShards(t *testing.T) {
	base := newAccDatabase(t, nil)
	europe := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	usa := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard2 })
	eu := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	const checksum = `SELECT count(*) || ':' || (sum(hashtextextended(t::text, 0)) % 1000000007) FROM (SELECT id, location, body FROM tweets ORDER BY id) t`
	var want string
	rows := func(db *accDatabase, table, want string) func() error {
		return db.ExpectQuery(want, `SELECT coalesce(string_agg(location || ':' || id, ',' ORDER BY id), '') FROM `+table)
	}
	same := func() error {
		got, err := base.QueryString(checksum)
		if err != nil || got != want {
			return fmt.Errorf("rows through the parent %s (%v), before the move %s", got, err, want)
		}
		return nil
	}
	start := []moveShard{{key: "europe", db: europe, values: []string{"europe", "eu"}}, {key: "usa", db: usa, values: []string{"usa"}}}
	moved := []moveShard{{key: "europe", db: europe, values: []string{"europe"}}, {key: "usa", db: usa, values: []string{"usa", "eu"}, dependsOn: "europe"}}
	split := []moveShard{{key: "europe", db: europe, values: []string{"europe"}}, {key: "usa", db: usa, values: []string{"usa"}}, {key: "eu", db: eu, values: []string{"eu"}, dependsOn: "usa"}}
	merged := []moveShard{{key: "europe", db: europe, values: []string{"europe"}}, {key: "usa", db: usa, values: []string{"usa", "eu"}}}
	update := func(addr ...string) resource.ConfigPlanChecks {
		var checks []plancheck.PlanCheck
		for _, a := range addr {
			checks = append(checks, plancheck.ExpectResourceAction(a, plancheck.ResourceActionUpdate))
		}
		return resource.ConfigPlanChecks{PreApply: checks}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: moveConfig(base, start, false),
				Check: dbChecks(func() error {
					_, err := base.DB.Exec(`INSERT INTO tweets VALUES (1, 'europe', 'a'), (2, 'eu', 'b'), (3, 'eu', 'c'), (4, 'usa', 'd'), (5, 'mars', 'e')`)
					if err == nil {
						want, err = base.QueryString(checksum)
					}
					return err
				}),
			},
			// A key between two existing shards: the giver narrows into DEFAULT, then the
			// receiver (depends_on the giver) widens over it.
			{
				Config:           moveConfig(base, moved, false),
				ConfigPlanChecks: update("pgshard_foreign_partition.europe", "pgshard_foreign_partition.usa"),
				Check: dbChecks(same, rows(europe, "europe_tweets", "europe:1"), rows(usa, "usa_tweets", "eu:2,eu:3,usa:4"),
					rows(base, "ONLY tweets_default", "mars:5"),
					base.ExpectQuery("0", `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard_move_%'`)),
			},
			// A split: a new shard takes eu from usa.
			{
				Config: moveConfig(base, split, false),
				Check: dbChecks(same, rows(usa, "usa_tweets", "usa:4"), rows(eu, "eu_tweets", "eu:2,eu:3"),
					rows(base, "ONLY tweets_default", "mars:5")),
			},
			// A merge: the eu shard goes, usa (which it declared depends_on) takes its key
			// back. The shard table stays, empty, and refuses new rows.
			{
				Config: moveConfig(base, merged, false),
				Check: dbChecks(same, rows(usa, "usa_tweets", "eu:2,eu:3,usa:4"), rows(eu, "eu_tweets", ""),
					func() error {
						if _, err := eu.DB.Exec(`INSERT INTO eu_tweets VALUES (9, 'eu', 'late')`); err == nil {
							return fmt.Errorf("the merged-away shard table still takes rows")
						}
						return nil
					}),
			},
			// Narrowing without move_to_default is refused at plan, naming the count.
			{
				Config:      moveConfig(base, []moveShard{merged[0], {key: "usa", db: usa, values: []string{"usa"}, onRows: "fail"}}, false),
				ExpectError: expectError(`2 rows of public.usa_tweets fall outside the new bound`),
			},
			// A stack destroy would move the shards' rows into DEFAULT and drop them with it:
			// refused at plan, nothing dropped.
			{
				Config:      base.ProviderConfig(),
				ExpectError: expectError(`Destroy Refused.*destroys the DEFAULT partition`),
			},
			{
				Config: moveConfig(base, []moveShard{{key: "europe", db: europe, values: []string{"europe"}, onRows: "fail"}, {key: "usa", db: usa, values: []string{"usa", "eu"}, onRows: "fail"}}, true),
				Check:  dbChecks(same),
			},
		},
	})
}

// A move to DEFAULT cut off in the narrowest window (the shard committed the deletion of the
// leaving rows, the base lost its commit) leaves the rows only in the journal: no partition
// and no DEFAULT shows them. The next refresh undoes the move (the rows go back onto the
// shard, its CHECK back to the bound), so the plan of the old bound is empty; the apply of
// the narrowing then moves them again: every row is through the parent, once.
func TestAccForeignPartition_UndoesMoveLeftHalfDone(t *testing.T) {
	base := newAccDatabase(t, nil)
	europe := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	const checksum = `SELECT count(*) || ':' || (sum(hashtextextended(t::text, 0)) % 1000000007) FROM (SELECT id, location, body FROM tweets ORDER BY id) t`
	var want string
	start := []moveShard{{key: "europe", db: europe, values: []string{"europe", "eu"}}}
	narrowed := []moveShard{{key: "europe", db: europe, values: []string{"europe"}}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: moveConfig(base, start, true),
				Check: dbChecks(func() error {
					if _, err := base.DB.Exec(`INSERT INTO tweets SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'europe' END, 'b' || g FROM generate_series(1, 30) g`); err != nil {
						return err
					}
					var err error
					if want, err = base.QueryString(checksum); err != nil {
						return err
					}
					// What the crash leaves: the journal committed on the base, the leaving rows
					// deleted on the shard, the shard's CHECK narrowed (not validated), DEFAULT
					// without them.
					if _, err := base.DB.Exec(`CREATE TABLE pgshard_move_europe_tweets AS SELECT id, location, body FROM ONLY europe_tweets WHERE location = 'eu'`); err != nil {
						return err
					}
					for _, stmt := range []string{
						`DELETE FROM europe_tweets WHERE location = 'eu'`,
						`ALTER TABLE europe_tweets DROP CONSTRAINT europe_tweets_bound, ADD CONSTRAINT europe_tweets_bound CHECK (location = 'europe') NOT VALID`,
					} {
						if _, err := europe.DB.Exec(stmt); err != nil {
							return err
						}
					}
					return base.ExpectQuery("20", `SELECT count(*) FROM tweets`)()
				}),
			},
			{
				// The refresh of the plan after step 1 undid it.
				Config: moveConfig(base, start, true),
				Check: dbChecks(
					base.ExpectQuery("30", `SELECT count(*) FROM tweets`),
					base.ExpectQuery("0", `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard_move_%'`),
					europe.ExpectQuery("CHECK ((location = ANY (ARRAY['europe'::text, 'eu'::text])))", `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`),
				),
			},
			{
				Config: moveConfig(base, narrowed, true),
				Check: dbChecks(
					func() error {
						got, err := base.QueryString(checksum)
						if err != nil || got != want {
							return fmt.Errorf("rows through the parent %s (%v), before the crash %s", got, err, want)
						}
						return nil
					},
					base.ExpectQuery("10", `SELECT count(*) FROM `+keptOnBase+` WHERE location = 'eu'`),
					base.ExpectQuery("0", `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard_move_%'`),
					europe.ExpectQuery("0", `SELECT count(*) FROM europe_tweets WHERE location = 'eu'`),
				),
			},
			// Moves off, so that the test's destroy leaves the shard's rows where they are.
			{Config: moveConfig(base, []moveShard{{key: "europe", db: europe, values: []string{"europe"}, onRows: "fail"}}, true)},
		},
	})
}

// keptOnBase is the FROM item of the rows of tweets the base keeps itself: DEFAULT's and
// the holding partitions' (where the rows of keys a shard gave to DEFAULT wait).
const keptOnBase = `(SELECT t.* FROM tweets t JOIN pg_class c ON c.oid = t.tableoid WHERE c.relkind = 'r') d`

// Ctrl-C during a move, through the real CLI: Terraform stops the provider, which cancels the
// running statement; the apply fails, nothing is half moved, and the next apply finishes the
// move with every row once.
func TestAccForeignPartition_CtrlCDuringMoveResumes(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test (TF_ACC=1)")
	}
	base := newAccDatabase(t, nil)
	europe := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	dir := t.TempDir()
	write := func(dir string, shards []moveShard) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(moveConfig(base, shards, true)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, []moveShard{{key: "europe", db: europe, values: []string{"europe", "eu"}}})
	ws := postgrestest.NewWorkspace(t, dir)
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	const rows = 1000000
	europe.Exec(t, fmt.Sprintf(`INSERT INTO europe_tweets SELECT g, CASE WHEN g %% 10 = 0 THEN 'europe' ELSE 'eu' END, md5(g::text) FROM generate_series(1, %d) g`, rows))
	const checksum = `SELECT count(*) || ':' || count(DISTINCT id) || ':' || (sum(hashtextextended(t::text, 0)) % 1000000007) FROM (SELECT id, location, body FROM tweets) t`
	want, err := base.QueryString(checksum)
	if err != nil {
		t.Fatal(err)
	}

	write(ws.Dir, []moveShard{{key: "europe", db: europe, values: []string{"europe"}}})
	out, code, sent := ws.Interrupt(t, func(line string) bool { return strings.Contains(line, "pgshard: copy ") }, "apply", "-auto-approve", "-no-color")
	if !sent || code == 0 {
		t.Fatalf("the apply was not interrupted during the move (signal sent %v, exit %d):\n%s", sent, code, tail(out, 4000))
	}
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "The apply was interrupted (Ctrl-C makes Terraform stop the provider") {
		t.Errorf("the error does not say the apply was interrupted:\n%s", tail(out, 4000))
	}
	// Nothing half moved: the parent shows every row once, the partition keeps its old bound.
	if got, err := base.QueryString(checksum); err != nil || got != want {
		t.Fatalf("after Ctrl-C the parent shows %s (%v), before %s", got, err, want)
	}
	if err := base.ExpectQuery("0", `SELECT count(*) FROM `+keptOnBase)(); err != nil {
		t.Fatal(err)
	}
	// The shard's CHECK is back to the old bound: it admits what the base still routes to it.
	if err := europe.ExpectQuery("CHECK ((location = ANY (ARRAY['europe'::text, 'eu'::text])))",
		`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`)(); err != nil {
		t.Fatal(err)
	}
	if err := base.ExpectQuery("FOR VALUES IN ('europe', 'eu')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'europe_tweets'`)(); err != nil {
		t.Fatalf("%v\n%s", err, tail(out, 4000))
	}

	ws.Must(t, "apply", "-auto-approve", "-no-color")
	ws.PlanIsEmpty(t)
	if got, err := base.QueryString(checksum); err != nil || got != want {
		t.Fatalf("after the next apply the parent shows %s (%v), before %s", got, err, want)
	}
	for _, check := range []func() error{
		base.ExpectQuery(fmt.Sprint(rows*9/10), `SELECT count(*) FROM `+keptOnBase+` WHERE location = 'eu'`),
		base.ExpectQuery("1", `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_held\_tweets\_%' AND relispartition`),
		europe.ExpectQuery("0", `SELECT count(*) FROM europe_tweets WHERE location = 'eu'`),
		base.ExpectQuery("0", `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard_move_%'`),
	} {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
	write(ws.Dir, []moveShard{{key: "europe", db: europe, values: []string{"europe"}, onRows: "fail"}})
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
