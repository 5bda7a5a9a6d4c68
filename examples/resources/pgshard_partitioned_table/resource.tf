# The sharded table's parent on the base database, split by location.
resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
    { name = "owner_id", type = "bigint" },
    { name = "like_count", type = "integer", not_null = true, default = "0" },
    { name = "created_at", type = "timestamptz", not_null = true, default = "now()" },
  ]
  partition_by = {
    strategy = "list"
    key      = ["location"]
  }
}

# Time as the second axis: Europe's rows, split again by month. A table with a parent is a
# partition of it (here for location 'europe') and takes the parent's columns.
resource "pgshard_partitioned_table" "tweets_europe" {
  parent    = pgshard_partitioned_table.tweets.id
  name      = "tweets_europe"
  values_in = ["europe"]
  partition_by = {
    strategy = "range"
    key      = ["created_at"]
  }
}

# Its partitions name it as their parent: local ones, or shards (pgshard_foreign_partition).
resource "pgshard_partition" "tweets_europe_2025_01" {
  parent      = pgshard_partitioned_table.tweets_europe.id
  name        = "tweets_europe_2025_01"
  values_from = ["2025-01-01"]
  values_to   = ["2025-02-01"]
}
