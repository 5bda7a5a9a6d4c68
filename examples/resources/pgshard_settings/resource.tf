# Every session of the tweets database aggregates and joins per shard: each shard counts
# its own rows (GROUP BY pushed into its Remote SQL) instead of sending them all to the base.
resource "pgshard_settings" "tweets" {
  database = "tweets"
  settings = {
    enable_partitionwise_aggregate = "on"
    enable_partitionwise_join      = "on"
  }
}

# The API's role in that database only: its own search path and a statement timeout.
resource "pgshard_settings" "api" {
  database = "tweets"
  role     = "tweets_api"
  settings = {
    search_path       = "\"$user\", public"
    statement_timeout = "30s"
  }
}
