# A shard's table, managed through a provider pointed at the shard's database.
provider "pgshard" {
  alias    = "europe"
  host     = "127.0.0.1"
  port     = 5400
  database = "eutweets"
}

resource "pgshard_table" "europe_tweets" {
  provider = pgshard.europe
  name     = "europe_tweets"
  columns = [
    { name = "id", type = "bigint", not_null = true },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
    { name = "owner_id", type = "bigint" },
    { name = "like_count", type = "integer", not_null = true, default = "0" },
  ]
  primary_key = ["id"]
}
