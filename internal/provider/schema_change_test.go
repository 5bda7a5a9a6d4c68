package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// tweetsColumns renders the tweets columns of the sharded topology with the given text
// column and extra columns, for a config built by shardedTweets.config.
func withColumns(cfg, text, extra string) string {
	return strings.Replace(cfg, `{ name = "text", type = "text" },`, text+"\n    "+extra, 1)
}

// Every kind of column change of the parent reaches the shard tables the provider manages,
// in one apply each, with rows on every shard and in DEFAULT; SELECT * through the parent
// works after each step, and the plan after each is empty.
func TestAccPartitionedTable_ColumnChangesReachShards(t *testing.T) {
	s := newShardedTweets(t)
	base := s.config(`["europe"]`, "force_destroy = true")
	count := func(db *accDatabase, want, query string) func() error { return db.ExpectQuery(want, query) }
	all := func(want string) func() error {
		return count(s.base, want, `SELECT count(*) FROM (SELECT * FROM tweets) t`)
	}
	shardColumn := func(db *accDatabase, table, want, column string) func() error {
		return count(db, want, fmt.Sprintf(`SELECT format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END
		  || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
		  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		  WHERE attrelid = '%s'::regclass AND attname = '%s' AND NOT attisdropped`, table, column))
	}
	both := func(want, column string) []func() error {
		return []func() error{shardColumn(s.europe, "europe_tweets", want, column), shardColumn(s.usa, "us_tweets", want, column)}
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("pgshard_partitioned_table.tweets", plancheck.ResourceActionUpdate),
	}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: base,
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('mars', 'beep')`)
					return err
				}),
			},
			// A new column with a default: on the shards first, existing rows get the default.
			{
				Config:           withColumns(base, `{ name = "text", type = "text" },`, `{ name = "lang", type = "text", default = "'en'" },`),
				ConfigPlanChecks: update,
				Check: dbChecks(append(both("text default 'en'::text", "lang"), all("3"),
					count(s.base, "en,en,en", `SELECT string_agg(lang, ',') FROM tweets`),
					func() error {
						_, err := s.europe.DB.Exec(`INSERT INTO europe_tweets (location, text, like_count) VALUES ('europe', 'direct', 0)`)
						return err
					},
					count(s.base, "en", `SELECT lang FROM tweets WHERE text = 'direct'`))...),
			},
			// A rename reaches the shards: the values stay and no column_name mapping is left.
			{
				Config:           withColumns(base, `{ name = "body", type = "text", renamed_from = "text" },`, `{ name = "lang", type = "text", default = "'en'" },`),
				ConfigPlanChecks: update,
				Check: dbChecks(append(both("text", "body"), all("4"),
					count(s.europe, "direct,hallo", `SELECT string_agg(body, ',' ORDER BY body) FROM europe_tweets`),
					count(s.base, "0", `SELECT count(*) FROM pg_attribute WHERE attrelid IN ('europe_tweets'::regclass, 'us_tweets'::regclass) AND attfdwoptions IS NOT NULL`))...),
			},
			// A type widened, a default changed and NOT NULL set, in one apply.
			{
				Config: strings.Replace(withColumns(base, `{ name = "body", type = "text" },`, `{ name = "lang", type = "text", default = "'de'", not_null = true },`),
					`{ name = "like_count", type = "int4", not_null = true, default = "0" },`, `{ name = "like_count", type = "int8", not_null = true, default = "0" },`, 1),
				ConfigPlanChecks: update,
				Check:            dbChecks(append(append(both("text not null default 'de'::text", "lang"), both("bigint not null default 0", "like_count")...), all("4"))...),
			},
			// A drop of a column holding values, allowed by force_destroy on the parent: the
			// shards drop it too, right after the parent.
			{
				Config: strings.Replace(withColumns(base, `{ name = "body", type = "text" },`, ``),
					`{ name = "like_count", type = "int4", not_null = true, default = "0" },`, `{ name = "like_count", type = "int8", not_null = true, default = "0" },`, 1),
				Check: dbChecks(append(both("<none>", "lang"), all("4"),
					count(s.base, "<none>", `SELECT attname FROM pg_attribute WHERE attrelid = 'tweets'::regclass AND attname = 'lang' AND NOT attisdropped`))...),
			},
		},
	})
}

// A shard that is down while the parent's columns change: the apply fails naming it and
// changes nothing anywhere (not the parent, not the shard it could reach), and the same
// apply after the shard is back changes the parent and both shards.
func TestAccPartitionedTable_ColumnChangeWithShardDown(t *testing.T) {
	s := &shardedTweets{
		base:   newAccDatabase(t, nil),
		europe: newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 }),
		usa:    privateShard(t, "schemadown"),
	}
	base := s.config(`["europe"]`, "force_destroy = true")
	added := withColumns(base, `{ name = "text", type = "text" },`, `{ name = "lang", type = "text" },`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: base},
			{
				PreConfig: func() {
					if err := s.usa.Cluster.StopServer(); err != nil {
						t.Fatal(err)
					}
				},
				Config:      added,
				ExpectError: expectError(`the shard behind server "usa" refused its part of the change, so nothing was changed on the base or any shard`),
			},
			{
				PreConfig: func() {
					if err := s.usa.Cluster.StartServer(t.Context()); err != nil {
						t.Fatal(err)
					}
					for _, db := range []*accDatabase{s.base, s.europe} {
						if got, _ := db.QueryString(`SELECT count(*) FROM pg_attribute WHERE attname = 'lang'`); got != "0" {
							t.Fatalf("a refused change left the column on %s: %s", db.Name, got)
						}
					}
				},
				Config: added,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("pgshard_partitioned_table.tweets", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("pgshard_foreign_partition.usa", plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionNoop),
				}},
				Check: dbChecks(
					s.usa.ExpectQuery("1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'us_tweets'::regclass AND attname = 'lang'`),
					s.europe.ExpectQuery("1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'europe_tweets'::regclass AND attname = 'lang'`),
					func() error {
						_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text, lang) VALUES ('usa', 'back', 'en')`)
						return err
					},
					s.usa.ExpectQuery("en", `SELECT lang FROM us_tweets WHERE text = 'back'`),
				),
			},
		},
	})
}

// A narrowing type change while shard rows hold values that do not fit is refused at plan,
// with the count per table (base DEFAULT and each shard), and changes nothing: the table
// stays readable. Once the values fit, the same change reaches the parent and every shard.
func TestAccPartitionedTable_NarrowingTypeRefusedAtPlan(t *testing.T) {
	s := newShardedTweets(t)
	base := s.config(`["europe"]`, "force_destroy = true")
	narrow := withColumns(base, `{ name = "text", type = "varchar(3)" },`, ``)
	readable := s.base.ExpectQuery("4", `SELECT count(*) FROM (SELECT * FROM tweets) t`)
	types := func(want string) func() error {
		return func() error {
			for _, c := range []struct {
				db    *accDatabase
				table string
			}{{s.base, "tweets"}, {s.europe, "europe_tweets"}, {s.usa, "us_tweets"}} {
				if err := c.db.ExpectQuery(want, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '`+c.table+`'::regclass AND attname = 'text'`)(); err != nil {
					return fmt.Errorf("%s: %w", c.table, err)
				}
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: base,
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('europe', 'ok'), ('usa', 'howdy'), ('mars', 'beeps')`)
					return err
				}),
			},
			{
				Config: narrow,
				ExpectError: regexp.MustCompile(`(?s)Column Type Change Refused.*public\.tweets_default: column "text" \(1 values do not convert to\s+character\s+varying\(3\)\).*` +
					`public\.europe_tweets on server "europe": column "text" \(1 values do not\s+convert to\s+character\s+varying\(3\)\).*public\.us_tweets on server "usa"`),
				Check: dbChecks(types("text"), readable),
			},
			{
				Config: narrow,
				PreConfig: func() {
					for _, stmt := range []string{`UPDATE tweets SET text = left(text, 3)`} {
						if _, err := s.base.DB.Exec(stmt); err != nil {
							t.Fatal(err)
						}
					}
					if err := types("text")(); err != nil {
						t.Fatal(err)
					}
				},
				Check: dbChecks(types("character varying(3)"), readable),
			},
		},
	})
}

// A generated column: added in place, generated on the managed shards too (postgres_fdw
// does not send generated values), another spelling of its expression plans nothing, a
// new expression is refused at plan, and removing the expression keeps the values.
func TestAccPartitionedTable_GeneratedColumn(t *testing.T) {
	s := newShardedTweets(t)
	base := s.config(`["europe"]`, "force_destroy = true")
	generated := func(expr string) string {
		return withColumns(base, `{ name = "text", type = "text" },`, `{ name = "shout", type = "text", generated = "`+expr+`" },`)
	}
	plain := withColumns(base, `{ name = "text", type = "text" },`, `{ name = "shout", type = "text" },`)
	both := func(want string) func() error {
		return func() error {
			for _, c := range []struct {
				db    *accDatabase
				table string
			}{{s.base, "tweets"}, {s.europe, "europe_tweets"}, {s.usa, "us_tweets"}} {
				if err := c.db.ExpectQuery(want, `SELECT attgenerated::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') FROM pg_attribute a
				  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE attrelid = '`+c.table+`'::regclass AND attname = 'shout'`)(); err != nil {
					return fmt.Errorf("%s: %w", c.table, err)
				}
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: base,
				Check: dbChecks(func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('mars', 'beep')`)
					return err
				}),
			},
			{
				Config: generated("upper(text)"),
				Check: dbChecks(both("s:upper(text)"),
					func() error {
						_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('usa', 'new')`)
						return err
					},
					s.usa.ExpectQuery("HOWDY,NEW", `SELECT string_agg(shout, ',' ORDER BY shout) FROM us_tweets`),
					s.base.ExpectQuery("BEEP,HALLO,HOWDY,NEW", `SELECT string_agg(shout, ',' ORDER BY shout) FROM tweets`)),
			},
			{Config: generated("upper( text )"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{Config: generated("lower(text)"), ExpectError: regexp.MustCompile(`cannot become generated, or change its\s+generation expression, in place`)},
			{
				Config: plain,
				Check: dbChecks(both(":"),
					s.base.ExpectQuery("BEEP,HALLO,HOWDY,NEW", `SELECT string_agg(shout, ',' ORDER BY shout) FROM tweets`)),
			},
		},
	})
}
