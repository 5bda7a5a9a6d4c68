# Europe's tweets, split by month: three months are kept ahead of today, months whose end
# is more than a year ago are detached (kept as tables), and a tweet that arrives before
# its month exists waits in DEFAULT and is moved in when the month is made.
resource "pgshard_partitioned_table" "europe" {
  parent       = pgshard_partitioned_table.tweets.id
  name         = "tweets_europe"
  values_in    = ["europe"]
  partition_by = { strategy = "range", key = ["created_at"] }
}

resource "pgshard_partition" "europe_default" {
  parent     = pgshard_partitioned_table.europe.id
  name       = "tweets_europe_default"
  is_default = true
}

resource "pgshard_time_partitions" "europe" {
  parent    = pgshard_partitioned_table.europe.id
  interval  = "1 month"
  premake   = 3
  retention = { after = "12 months", action = "detach" }

  depends_on = [pgshard_partition.europe_default]
}

# Warn a month before the premade periods run out (a run of terraform apply makes more).
check "europe_periods_ahead" {
  assert {
    condition     = timecmp(timeadd(plantimestamp(), "720h"), pgshard_time_partitions.europe.premade_until) < 0
    error_message = "The last period of tweets_europe ends ${pgshard_time_partitions.europe.premade_until}: apply to make more."
  }
}
