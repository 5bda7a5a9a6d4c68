# The foreign partitions of tweets on server europe.
list "pgshard_foreign_partition" "europe" {
  provider         = pgshard
  include_resource = true

  config {
    parent = "public.tweets"
    server = "europe"
  }
}
