# Every partitioned table (those that are partitions of another too).
list "pgshard_partitioned_table" "all" {
  provider = pgshard
}

# Only the partitioned partitions of tweets (each region split by time, say).
list "pgshard_partitioned_table" "regions" {
  provider = pgshard

  config {
    parent = "public.tweets"
  }
}
