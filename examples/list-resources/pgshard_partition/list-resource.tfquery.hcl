# The local partitions of tweets (its DEFAULT partition among them).
list "pgshard_partition" "tweets" {
  provider         = pgshard
  include_resource = true

  config {
    parent = "public.tweets"
  }
}
