package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// Day-two actions of a careful user and of a hurried one, each of which lost rows or
// values before: renames, out-of-band detaches, failed bound updates, destroys that stop
// halfway. Every step checks the rows in the databases, not only the state.

// dayTwo renders the sharded tweets topology with what a day-two test changes.
type dayTwo struct {
	europeName   string // the europe foreign partition's name
	europeValues string // its bound, HCL
	textColumn   string // the tweets column holding the text, HCL object
	force        bool   // force_destroy on the parent and the DEFAULT partition
	only         string // when set, the whole configuration (a destroy of the stack)
}

func (s *shardedTweets) dayTwoConfig(d dayTwo) string {
	if d.only != "" {
		return s.base.ProviderConfig() + d.only
	}
	cfg := s.config(d.europeValues, fmt.Sprintf("force_destroy = %t", d.force))
	cfg = strings.Replace(cfg, `{ name = "text", type = "text" },`, d.textColumn, 1)
	return strings.Replace(cfg, `name                = "europe_tweets"`, fmt.Sprintf(`name                = %q`, d.europeName), 1)
}

func TestAccForeignPartition_ShardedDayTwo(t *testing.T) {
	s := newShardedTweets(t)
	d := dayTwo{europeName: "europe_tweets", europeValues: `["europe"]`, textColumn: `{ name = "text", type = "text" },`}
	count := func(db *accDatabase, want, query string) func() error { return db.ExpectQuery(want, query) }
	rows := []func() error{
		count(s.base, "3", `SELECT count(*) FROM tweets`),
		count(s.europe, "1", `SELECT count(*) FROM europe_tweets`),
		count(s.usa, "1", `SELECT count(*) FROM us_tweets`),
		count(s.base, "1", `SELECT count(*) FROM ONLY tweets_default`),
	}
	rowsEverywhere := dbChecks(rows...)
	step := func(mod func(*dayTwo)) string {
		mod(&d)
		return s.dayTwoConfig(d)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: step(func(*dayTwo) {}),
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('mars', 'beep')`)
					return err
				}),
			},
			// A column whose name changes without renamed_from is a drop and an add: refused
			// at plan, while the old column holds values.
			{
				Config:      step(func(d *dayTwo) { d.textColumn = `{ name = "body", type = "text" },` }),
				ExpectError: expectError(`Column Drop Refused.*column "text" \(3 values\).*renamed_from`),
			},
			// Declared, it is a rename: the values stay, and the shard tables the provider
			// manages are renamed too.
			{
				Config: step(func(d *dayTwo) { d.textColumn = `{ name = "body", type = "text", renamed_from = "text" },` }),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_partitioned_table.tweets", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(append(rows,
					count(s.base, "beep,hallo,howdy", `SELECT string_agg(body, ',' ORDER BY body) FROM tweets`),
					count(s.base, "3", `SELECT count(*) FROM (SELECT * FROM tweets) t`),
					count(s.europe, "hallo", `SELECT body FROM europe_tweets`),
				)...),
			},
			// renamed_from may then go, without a diff.
			{
				Config:             step(func(d *dayTwo) { d.textColumn = `{ name = "body", type = "text" },` }),
				PlanOnly:           true,
				ExpectNonEmptyPlan: false,
			},
			// Renaming a shard is in place: the foreign table keeps reading the same shard table.
			{
				Config: step(func(d *dayTwo) { d.europeName = "eu_tweets" }),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(append(rows,
					count(s.base, "hallo", `SELECT body FROM eu_tweets`),
					count(s.base, "europe_tweets", `SELECT (SELECT substr(o, 12) FROM unnest(ftoptions) o WHERE o LIKE 'table_name=%') FROM pg_foreign_table WHERE ftrelid = 'eu_tweets'::regclass`),
				)...),
			},
			// A bound update that fails locally (it overlaps usa) leaves the shard's CHECK as it was.
			{
				Config:      step(func(d *dayTwo) { d.europeValues = `["europe", "usa"]` }),
				ExpectError: expectError(`overlap`),
			},
			{
				PreConfig: func() {
					def, err := s.europe.QueryString(`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`)
					if err != nil || strings.Contains(def, "usa") || !strings.Contains(def, "europe") {
						t.Fatalf("the shard's CHECK changed after a failed bound update: %q, %v", def, err)
					}
					s.europe.Exec(t, `INSERT INTO europe_tweets (location, body) VALUES ('europe', 'still fits')`)
					s.europe.Exec(t, `DELETE FROM europe_tweets WHERE body = 'still fits'`)
				},
				Config: step(func(d *dayTwo) { d.europeValues = `["europe"]` }),
				Check:  rowsEverywhere,
			},
			// A DEFAULT partition detached out of band is attached again, in place, with its rows.
			{
				PreConfig: func() { s.base.Exec(t, `ALTER TABLE tweets DETACH PARTITION tweets_default`) },
				Config:    step(func(*dayTwo) {}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_partition.default", plancheck.ResourceActionUpdate),
				}},
				Check: rowsEverywhere,
			},
			// Destroying the stack while DEFAULT holds rows is refused at plan: nothing is dropped.
			{
				Config:      step(func(d *dayTwo) { d.only = " " }),
				ExpectError: expectError(`Partition Destroy Refused.*public.tweets_default \(1 rows\)`),
			},
			{
				PreConfig: func() {
					n, err := s.base.QueryString(`SELECT count(*) FROM pg_foreign_table`)
					if err != nil || n != "2" {
						t.Fatalf("foreign partitions after a refused destroy: %s, %v", n, err)
					}
				},
				Config: step(func(d *dayTwo) { d.only = ""; d.force = true }),
				Check:  rowsEverywhere,
			},
		},
	})
}

// A plain table is no partition tree: destroying it while it holds rows is refused at plan.
func TestAccTable_DestroyWithRows(t *testing.T) {
	a := newAccDatabase(t, nil)
	table := func(force bool) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_table" "t" {
  name          = "kept"
  columns       = [{ name = "id", type = "int" }]
  force_destroy = %t
}
`, force)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             dbChecks(a.ExpectQuery("<null>", `SELECT to_regclass('kept')::text`)),
		Steps: []resource.TestStep{
			{Config: table(false), Check: dbChecks(func() error { _, err := a.DB.Exec(`INSERT INTO kept VALUES (1), (2)`); return err })},
			{Config: a.ProviderConfig(), ExpectError: expectError(`Table Destroy Refused.*public.kept \(2 rows\)`)},
			{Config: table(false), Check: dbChecks(a.ExpectQuery("2", `SELECT count(*) FROM kept`))},
			// Renamed in place, rows kept.
			{
				Config: strings.Replace(table(false), `"kept"`, `"kept2"`, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_table.t", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(a.ExpectQuery("2", `SELECT count(*) FROM kept2`)),
			},
			{Config: table(true)},
		},
	})
}

// Drift on a shard the provider manages shows in the plan and is repaired by the apply:
// the bound CHECK dropped out of band, and a column dropped on the shard. An import of a
// managed partition reads create_remote_table and remote_identity back from the shard.
func TestAccForeignPartition_ShardDrift(t *testing.T) {
	s := newShardedTweets(t)
	config := s.config(`["europe"]`, "force_destroy = true")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config},
			{ResourceName: "pgshard_foreign_partition.europe", ImportState: true, ImportStateVerify: true},
			{
				PreConfig: func() {
					s.europe.Exec(t, `ALTER TABLE europe_tweets DROP CONSTRAINT europe_tweets_bound`)
					s.usa.Exec(t, `ALTER TABLE us_tweets DROP COLUMN owner_id`)
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("pgshard_foreign_partition.usa", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(
					s.europe.ExpectQuery("1", `SELECT count(*) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`),
					s.usa.ExpectQuery("1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'us_tweets'::regclass AND attname = 'owner_id' AND NOT attisdropped`),
					func() error {
						_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text, owner_id) VALUES ('usa', 'after repair', 7)`)
						return err
					},
					s.base.ExpectQuery("7", `SELECT owner_id FROM tweets WHERE text = 'after repair'`),
					func() error {
						if _, err := s.europe.DB.Exec(`INSERT INTO europe_tweets (location, text, like_count) VALUES ('usa', 'wrong shard', 0)`); err == nil {
							return fmt.Errorf("the repaired CHECK lets a usa row into the europe shard")
						}
						return nil
					},
				),
			},
			// A CHECK changed out of band (here widened) is drift too.
			{
				PreConfig: func() {
					s.europe.Exec(t, `ALTER TABLE europe_tweets DROP CONSTRAINT europe_tweets_bound, ADD CONSTRAINT europe_tweets_bound CHECK (location IS NOT NULL)`)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionUpdate),
				}},
				Check: dbChecks(s.europe.ExpectQuery("1", `SELECT count(*) FROM pg_constraint WHERE conname = 'europe_tweets_bound' AND pg_get_constraintdef(oid) LIKE '%europe%'`)),
			},
			// A shard holding a row its bound does not admit: the CHECK cannot come back, and
			// the apply says how many rows and where to look, changing nothing.
			{
				PreConfig: func() {
					s.europe.Exec(t, `ALTER TABLE europe_tweets DROP CONSTRAINT europe_tweets_bound`)
					s.europe.Exec(t, `INSERT INTO europe_tweets (location, text, like_count) VALUES ('usa', 'stray', 0)`)
				},
				Config:      config,
				ExpectError: expectError(`holds 1 rows outside the partition's bound.*does not change the partition's bound FOR VALUES IN \('europe'\).*pgshard_shard_check`),
			},
			{
				PreConfig: func() { s.europe.Exec(t, `DELETE FROM europe_tweets WHERE text = 'stray'`) },
				Config:    config,
				Check:     dbChecks(s.europe.ExpectQuery("1", `SELECT count(*) FROM pg_constraint WHERE conname = 'europe_tweets_bound'`)),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// The hints name the real cause: DEFAULT rows that a widened bound would take, and rows
// moved out of DEFAULT that the shard table refuses.
func TestAccPartition_DefaultRowsHints(t *testing.T) {
	a := newAccDatabase(t, nil, "postgres_fdw")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	shard.Exec(t, `CREATE TABLE strict_tweets (id int, location text, extra int NOT NULL)`)
	for _, stmt := range []string{
		`CREATE TABLE tweets (id int, location text) PARTITION BY LIST (location)`,
		`CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`,
		`INSERT INTO tweets VALUES (1, 'asia'), (2, 'oceania')`,
		fmt.Sprintf(`CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`, quoteLiteral(shard.Cluster.Host), shard.Cluster.Port, quoteLiteral(shard.Name)),
		fmt.Sprintf(`CREATE USER MAPPING FOR postgres SERVER europe OPTIONS (user 'postgres', password %s)`, quoteLiteral(shard.Cluster.Password)),
	} {
		a.Exec(t, stmt)
	}
	local := func(values string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_partition" "europe" {
  parent    = "public.tweets"
  name      = "europe_local"
  values_in = %s
}
`, values)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: local(`["europe"]`)},
			{Config: local(`["europe", "asia"]`), ExpectError: expectError(`rows in the DEFAULT partition public.tweets_default fall inside the new bound.*move_rows_from_default = true`)},
			{Config: local(`["europe"]`), PlanOnly: true},
			{
				Config: a.ProviderConfig() + `
resource "pgshard_foreign_partition" "oceania" {
  parent                 = "public.tweets"
  name                   = "oceania"
  server                 = "europe"
  remote_table           = "strict_tweets"
  values_in              = ["oceania"]
  move_rows_from_default = true
}
`,
				ExpectError: expectError(`could not be written into the new partition.*Nothing was moved`),
			},
		},
	})
	if n, _ := a.QueryString(`SELECT count(*) FROM ONLY tweets_default`); n != "2" {
		t.Fatalf("DEFAULT holds %s rows after the refused changes, want 2", n)
	}
}
