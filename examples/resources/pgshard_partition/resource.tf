# Rows whose location no shard takes stay on the base database.
resource "pgshard_partition" "default" {
  parent     = pgshard_partitioned_table.tweets.id
  name       = "tweets_default"
  is_default = true
}

# A local range partition.
resource "pgshard_partition" "events_2025" {
  parent      = pgshard_partitioned_table.events.id
  name        = "events_2025"
  values_from = ["2025-01-01"]
  values_to   = ["2026-01-01"]
}
