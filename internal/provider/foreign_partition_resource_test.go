package provider

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// shardedTweets is the two-region tweets topology on the three test clusters.
type shardedTweets struct {
	base, europe, usa *accDatabase
}

func newShardedTweets(t *testing.T) *shardedTweets {
	return &shardedTweets{
		base:   newAccDatabase(t, nil),
		europe: newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 }),
		usa:    newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard2 }),
	}
}

// config renders the topology; europeValues is the Europe bound, extra goes in the
// tweets and default resources (force_destroy).
func (s *shardedTweets) config(europeValues, extra string) string {
	return s.base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  name = "dblink"
}

locals {
  shards = {
    europe = { host = %q, port = %d, dbname = %q, password = %q, values = %s }
    usa    = { host = %q, port = %d, dbname = %q, password = %q, values = ["usa"] }
  }
}

resource "pgshard_foreign_server" "europe" {
  name       = "europe"
  host       = local.shards.europe.host
  port       = local.shards.europe.port
  dbname     = local.shards.europe.dbname
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_foreign_server" "usa" {
  name       = "usa"
  host       = local.shards.usa.host
  port       = local.shards.usa.port
  dbname     = local.shards.usa.dbname
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" "europe" {
  server   = pgshard_foreign_server.europe.name
  user     = "postgres"
  password = local.shards.europe.password
}

resource "pgshard_user_mapping" "usa" {
  server   = pgshard_foreign_server.usa.name
  user     = "postgres"
  password = local.shards.usa.password
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "serial" },
    { name = "location", type = "varchar", not_null = true },
    { name = "text", type = "text" },
    { name = "owner_id", type = "int8" },
    { name = "like_count", type = "int4", not_null = true, default = "0" },
  ]
  partition_by = { strategy = "list", key = ["location"] }
  %s
}

resource "pgshard_foreign_partition" "europe" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "europe_tweets"
  server              = pgshard_foreign_server.europe.name
  values_in           = local.shards.europe.values
  create_remote_table = true
  remote_identity     = { column = "id", start = 1000000000, increment = 1 }
  options             = { fetch_size = "1000", async_capable = "true" }
  depends_on          = [pgshard_user_mapping.europe, pgshard_extension.dblink]
}

resource "pgshard_foreign_partition" "usa" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "us_tweets"
  server              = pgshard_foreign_server.usa.name
  values_in           = local.shards.usa.values
  create_remote_table = true
  remote_identity     = { column = "id", start = 1500000000, increment = 1 }
  options             = { fetch_size = "1000", async_capable = "true" }
  depends_on          = [pgshard_user_mapping.usa, pgshard_extension.dblink]
}

resource "pgshard_partition" "default" {
  parent     = pgshard_partitioned_table.tweets.id
  name       = "tweets_default"
  is_default = true
  %s
}

data "pgshard_partitions" "tweets" {
  parent     = pgshard_partitioned_table.tweets.id
  depends_on = [pgshard_foreign_partition.europe, pgshard_foreign_partition.usa, pgshard_partition.default]
}
`, s.europe.Cluster.Host, s.europe.Cluster.Port, s.europe.Name, s.europe.Cluster.Password, europeValues,
		s.usa.Cluster.Host, s.usa.Cluster.Port, s.usa.Name, s.usa.Cluster.Password, extra, extra)
}

func TestAccForeignPartition_ShardedTweets(t *testing.T) {
	s := newShardedTweets(t)
	config := s.config(`["europe"]`, "")
	count := func(db *accDatabase, want, query string) func() error { return db.ExpectQuery(want, query) }

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		// Destroy keeps every shard row and leaves the base clean.
		CheckDestroy: dbChecks(
			count(s.europe, "3", `SELECT count(*) FROM europe_tweets`),
			count(s.usa, "1", `SELECT count(*) FROM us_tweets`),
			count(s.base, "0", `SELECT count(*) FROM pg_class WHERE relname IN ('tweets', 'europe_tweets', 'us_tweets', 'tweets_default')`),
			count(s.base, "0", `SELECT count(*) FROM pg_foreign_server`),
		),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_foreign_partition.europe", tfjsonpath.New("id"), knownvalue.StringExact("public.europe_tweets")),
					statecheck.ExpectKnownValue("pgshard_foreign_partition.europe", tfjsonpath.New("remote_table"), knownvalue.StringExact("europe_tweets")),
					statecheck.ExpectKnownValue("pgshard_partitioned_table.tweets", tfjsonpath.New("id"), knownvalue.StringExact("public.tweets")),
					statecheck.ExpectKnownValue("data.pgshard_partitions.tweets", tfjsonpath.New("partitions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{"schema": knownvalue.StringExact("public"), "name": knownvalue.StringExact("europe_tweets"),
							"foreign": knownvalue.Bool(true), "server": knownvalue.StringExact("europe"), "bound": knownvalue.StringExact("FOR VALUES IN ('europe')"), "is_default": knownvalue.Bool(false)}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{"schema": knownvalue.StringExact("public"), "name": knownvalue.StringExact("tweets_default"),
							"foreign": knownvalue.Bool(false), "server": knownvalue.StringExact(""), "bound": knownvalue.StringExact("DEFAULT"), "is_default": knownvalue.Bool(true)}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{"schema": knownvalue.StringExact("public"), "name": knownvalue.StringExact("us_tweets"),
							"foreign": knownvalue.Bool(true), "server": knownvalue.StringExact("usa"), "bound": knownvalue.StringExact("FOR VALUES IN ('usa')"), "is_default": knownvalue.Bool(false)}),
					})),
				},
				Check: dbChecks(
					// Rows inserted through the parent land on their shard, or in DEFAULT.
					func() error {
						_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text, owner_id) VALUES ('europe', 'hallo', 1), ('usa', 'howdy', 2), ('mars', 'beep', 3)`)
						return err
					},
					count(s.europe, "hallo", `SELECT string_agg(text, ',') FROM europe_tweets`),
					count(s.usa, "howdy", `SELECT string_agg(text, ',') FROM us_tweets`),
					count(s.base, "beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
					// A row written on a shard is visible through the parent, with an id from the shard's own series.
					func() error {
						_, err := s.europe.DB.Exec(`INSERT INTO europe_tweets (location, text, like_count) VALUES ('europe', 'direct', 0)`)
						return err
					},
					count(s.base, "1000000000", `SELECT id FROM tweets WHERE text = 'direct'`),
					count(s.base, "4", `SELECT count(DISTINCT id) FROM tweets`),
					// The shard's CHECK refuses a row that belongs to another region.
					func() error {
						_, err := s.europe.DB.Exec(`UPDATE europe_tweets SET location = 'usa' WHERE text = 'hallo'`)
						if err == nil || !strings.Contains(err.Error(), "europe_tweets_bound") {
							return fmt.Errorf("moving a row to another region on the shard should violate europe_tweets_bound, got %v", err)
						}
						_, err = s.europe.DB.Exec(`INSERT INTO europe_tweets (location, text, like_count) VALUES ('usa', 'wrong shard', 0)`)
						if err == nil {
							return fmt.Errorf("inserting a usa row on the europe shard should fail")
						}
						return nil
					},
				),
			},
			// Import reads the catalog's spelling of the types (character varying for varchar):
			// they mean the same, and TestAccForeignPartition_ShardedTweetsImportHandMade proves the plan is empty.
			{ResourceName: "pgshard_partitioned_table.tweets", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"columns.1.type", "columns.3.type", "columns.4.type"}},
			{ResourceName: "pgshard_foreign_partition.europe", ImportState: true, ImportStateVerify: true},
			{ResourceName: "pgshard_partition.default", ImportState: true, ImportStateVerify: true},
			{
				// A bound change is in place (detach + attach) and keeps the shard's rows.
				PreConfig: func() {
					s.europe.Exec(t, `INSERT INTO europe_tweets (location, text, like_count) VALUES ('europe', 'before', 0)`)
				},
				Config: s.config(`["europe", "eu"]`, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_foreign_partition.europe", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					count(s.base, "FOR VALUES IN ('europe', 'eu')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'europe_tweets'`),
					count(s.base, "3", `SELECT count(*) FROM tweets WHERE location = 'europe'`),
					func() error {
						_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text) VALUES ('eu', 'short')`)
						return err
					},
					count(s.europe, "short", `SELECT text FROM europe_tweets WHERE location = 'eu'`),
					func() error {
						_, err := s.europe.DB.Exec(`DELETE FROM europe_tweets WHERE location = 'eu'`)
						return err
					},
				),
			},
			{
				// Options changed out of band are repaired in place.
				PreConfig: func() { s.base.Exec(t, `ALTER FOREIGN TABLE us_tweets OPTIONS (SET fetch_size '5')`) },
				Config:    s.config(`["europe", "eu"]`, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_foreign_partition.usa", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(count(s.base, "async_capable=true,fetch_size=1000,schema_name=public,table_name=us_tweets",
					`SELECT array_to_string(ARRAY(SELECT unnest(ftoptions) ORDER BY 1), ',') FROM pg_foreign_table WHERE ftrelid = 'us_tweets'::regclass`)),
			},
			{
				// Dropped out of band: the foreign partition is created again, over the same shard table.
				PreConfig: func() { s.base.Exec(t, `DROP FOREIGN TABLE us_tweets`) },
				Config:    s.config(`["europe", "eu"]`, "force_destroy = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_foreign_partition.usa", plancheck.ResourceActionCreate)},
				},
				Check: dbChecks(count(s.base, "howdy", `SELECT text FROM tweets WHERE location = 'usa'`)),
			},
			{
				// A column added to the parent is added in place, and to the shard tables the
				// provider manages, before the parent's commit.
				Config: strings.Replace(s.config(`["europe", "eu"]`, "force_destroy = true"),
					`{ name = "like_count", type = "int4", not_null = true, default = "0" },`,
					`{ name = "like_count", type = "int4", not_null = true, default = "0" },`+"\n    { name = \"lang\", type = \"text\" },", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pgshard_partitioned_table.tweets", plancheck.ResourceActionUpdate)},
				},
				Check: dbChecks(
					count(s.base, "1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'tweets'::regclass AND attname = 'lang'`),
					count(s.europe, "1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'europe_tweets'::regclass AND attname = 'lang'`),
					count(s.usa, "1", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'us_tweets'::regclass AND attname = 'lang'`),
					count(s.base, "4", `SELECT count(*) FROM (SELECT * FROM tweets WHERE location IN ('europe', 'usa')) t`),
				),
			},
		},
	})
}

// The same topology built by hand with plain SQL imports into the resources with an
// empty plan afterwards: type spellings, default options and quoting cause no diff.
func TestAccForeignPartition_ShardedTweetsImportHandMade(t *testing.T) {
	s := newShardedTweets(t)
	for _, shard := range []struct {
		db    *accDatabase
		table string
	}{{s.europe, "europe_tweets"}, {s.usa, "us_tweets"}} {
		shard.db.Exec(t, `CREATE TABLE `+shard.table+` (id int4 NOT NULL, "location" varchar NOT NULL, text text, owner_id int8, like_count int4 NOT NULL)`)
	}
	for _, stmt := range []string{
		`CREATE EXTENSION postgres_fdw`,
		`CREATE EXTENSION dblink`,
		fmt.Sprintf(`CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`, quoteLiteral(s.europe.Cluster.Host), s.europe.Cluster.Port, quoteLiteral(s.europe.Name)),
		fmt.Sprintf(`CREATE SERVER usa FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`, quoteLiteral(s.usa.Cluster.Host), s.usa.Cluster.Port, quoteLiteral(s.usa.Name)),
		fmt.Sprintf(`CREATE USER MAPPING FOR postgres SERVER europe OPTIONS (user 'postgres', password %s)`, quoteLiteral(s.europe.Cluster.Password)),
		fmt.Sprintf(`CREATE USER MAPPING FOR postgres SERVER usa OPTIONS (user 'postgres', password %s)`, quoteLiteral(s.usa.Cluster.Password)),
		`CREATE TABLE tweets (id serial4, "location" varchar NOT NULL, text text, owner_id int8, like_count int4 NOT NULL DEFAULT 0) PARTITION BY LIST ("location")`,
		`CREATE FOREIGN TABLE europe_tweets PARTITION OF tweets FOR VALUES IN ('europe') SERVER europe OPTIONS (fetch_size '1000', async_capable 'true')`,
		`CREATE FOREIGN TABLE us_tweets PARTITION OF tweets FOR VALUES IN ('usa') SERVER usa OPTIONS (fetch_size '1000', async_capable 'true')`,
		`CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`,
	} {
		s.base.Exec(t, stmt)
	}
	// The hand-made shard tables have neither the identity nor the bound CHECK; those are
	// create-time settings that import leaves alone.
	config := strings.NewReplacer(
		`remote_identity     = { column = "id", start = 1000000000, increment = 1 }`, "",
		`remote_identity     = { column = "id", start = 1500000000, increment = 1 }`, "",
		`create_remote_table = true`, "",
	).Replace(s.config(`["europe"]`, ""))
	imports := map[string]string{
		"pgshard_extension.postgres_fdw":   "postgres_fdw",
		"pgshard_extension.dblink":         "dblink",
		"pgshard_foreign_server.europe":    "europe",
		"pgshard_foreign_server.usa":       "usa",
		"pgshard_user_mapping.europe":      "europe/postgres",
		"pgshard_user_mapping.usa":         "usa/postgres",
		"pgshard_partitioned_table.tweets": "public.tweets",
		"pgshard_foreign_partition.europe": "public.europe_tweets",
		"pgshard_foreign_partition.usa":    "us_tweets",
		"pgshard_partition.default":        `"public"."tweets_default"`,
	}
	var steps []resource.TestStep
	for addr, id := range imports {
		steps = append(steps, resource.TestStep{Config: config, ResourceName: addr, ImportState: true, ImportStateId: id, ImportStatePersist: true})
	}
	steps = append(steps,
		resource.TestStep{Config: config, PlanOnly: true},
		resource.TestStep{
			// Once imported, the data flows as if Terraform had built it.
			Config: strings.Replace(config, `name = "tweets"`, "name = \"tweets\"\n  force_destroy = true", 1),
			Check: dbChecks(
				func() error {
					_, err := s.base.DB.Exec(`INSERT INTO tweets (location, text, like_count) VALUES ('usa', 'imported', 0)`)
					return err
				},
				s.usa.ExpectQuery("imported", `SELECT text FROM us_tweets`),
			),
		},
	)
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// remote_identity only known at apply passes validation and is applied on the shard.
func TestAccForeignPartition_RemoteIdentityUnknownAtPlan(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	config := oneShardConfig(base, "europe", "europe_tweets", `remote_identity = terraform_data.identity.output`) + `
resource "terraform_data" "identity" {
  input = { column = "id", start = 5000, increment = 2 }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					shard.ExpectQuery("d", `SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'europe_tweets'::regclass AND attname = 'id'`),
					shard.ExpectQuery("5000 2", `SELECT seqstart || ' ' || seqincrement FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('europe_tweets', 'id')::regclass`),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// A 63-byte partition name of two-byte characters gets a bound CHECK whose name is cut at a
// character boundary, and a 63-byte server name works through dblink.
func TestAccForeignPartition_LongNames(t *testing.T) {
	name := strings.Repeat("é", 31) + "x"
	server := strings.Repeat("europe_", 9)
	base, shard := newBaseAndShard(t, server)
	if len(name) != postgres.MaxIdentifierLength || len(server) != postgres.MaxIdentifierLength {
		t.Fatalf("names are %d and %d bytes, want %d", len(name), len(server), postgres.MaxIdentifierLength)
	}
	config := oneShardConfig(base, server, name, "")
	checkName := func() error {
		var got string
		err := shard.DB.QueryRow(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`, quoteIdent(name)).Scan(&got)
		if err != nil {
			return fmt.Errorf("reading the shard table's CHECK: %w", err)
		}
		if want := strings.Repeat("é", 28) + "_bound"; !utf8.ValidString(got) || got != want {
			return fmt.Errorf("CHECK constraint is named %q, want %q", got, want)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_foreign_partition.shard", tfjsonpath.New("server"), knownvalue.StringExact(server)),
				},
				Check: dbChecks(
					checkName,
					base.ExpectQuery("FOR VALUES IN ('europe')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1`, name),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// A dblink connection left on a pooled session by an earlier failure is replaced, even
// for a 63-byte server name (dblink truncates connection names to 63 bytes).
func TestAccForeignPartition_RemoteLeftoverConnectionLongServer(t *testing.T) {
	server := strings.Repeat("europe_", 9)
	base, _ := newBaseAndShard(t, server)
	// One session, so every ShardSession below runs on it.
	db, err := base.Cluster.Open(base.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	ctx := t.Context()

	// Learn the connection's name as dblink stored it, then leave one of that name behind.
	remote, err := postgres.OpenShardSession(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	err = remote.InTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT c FROM unnest(dblink_get_connections()) c`).Scan(&stored)
	})
	if err = errors.Join(err, remote.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `SELECT dblink_connect($1, $2)`, stored, server); err != nil {
		t.Fatal(err)
	}

	remote, err = postgres.OpenShardSession(ctx, db, server)
	if err != nil {
		t.Fatalf("opening a connection over a leftover one: %v", err)
	}
	if err := remote.Close(); err != nil {
		t.Fatal(err)
	}
	var left sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT array_to_string(dblink_get_connections(), ',')`).Scan(&left); err != nil || left.Valid {
		t.Errorf("connections left after Close: %q, %v", left.String, err)
	}
}
