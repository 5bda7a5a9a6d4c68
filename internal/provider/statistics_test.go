package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// analyzedConfig is tweets with one foreign partition over a shard table made by hand,
// holding locations, and a DEFAULT; provider lines go into the provider block.
func analyzedConfig(base *accDatabase, locations, onRows string, provider ...string) string {
	return base.ProviderConfig(provider...) + fmt.Sprintf(`
resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigint" },
    { name = "location", type = "text", not_null = true },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}

resource "pgshard_partition" "default" {
  parent     = pgshard_partitioned_table.tweets.id
  name          = "tweets_default"
  is_default    = true
  force_destroy = true
}

resource "pgshard_foreign_partition" "europe" {
  parent                = pgshard_partitioned_table.tweets.id
  name                  = "europe_tweets"
  server                = "europe"
  values_in             = %s
  on_rows_outside_bound = %q
  depends_on            = [pgshard_partition.default]
}
`, locations, onRows)
}

// reltuples is the base's row estimate of a relation: -1 until it is analyzed.
const reltuples = `SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass`

// A foreign partition gets statistics when it is created over a shard table with rows and
// after rows move out of it; the planner's estimate follows.
func TestAccForeignPartition_AnalyzedAfterWrites(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	shard.Exec(t, `CREATE TABLE europe_tweets (id bigint, location text NOT NULL)`)
	shard.Exec(t, `INSERT INTO europe_tweets SELECT g, CASE WHEN g <= 600 THEN 'europe' ELSE 'asia' END FROM generate_series(1, 1000) g`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: analyzedConfig(base, `["europe", "asia"]`, "move_to_default"),
				Check:  dbChecks(base.ExpectQuery("1000", reltuples, "europe_tweets")),
			},
			{
				// asia's 400 rows move into DEFAULT: the shard's statistics count what is left.
				Config: analyzedConfig(base, `["europe"]`, "move_to_default"),
				Check: dbChecks(base.ExpectQuery("600", reltuples, "europe_tweets"),
					base.ExpectQuery("400", `SELECT count(*) FROM tweets WHERE location = 'asia'`)),
			},
			{Config: analyzedConfig(base, `["europe"]`, "fail")}, // so that destroy leaves the shard's rows there
		},
	})
}

// analyze_foreign_partitions = false leaves statistics alone.
func TestAccForeignPartition_AnalyzeOff(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	shard.Exec(t, `CREATE TABLE europe_tweets (id bigint, location text NOT NULL)`)
	shard.Exec(t, `INSERT INTO europe_tweets SELECT g, 'europe' FROM generate_series(1, 1000) g`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: analyzedConfig(base, `["europe"]`, "fail", "analyze_foreign_partitions = false"),
			Check:  dbChecks(base.ExpectQuery("-1", reltuples, "europe_tweets")),
		}},
	})
}
