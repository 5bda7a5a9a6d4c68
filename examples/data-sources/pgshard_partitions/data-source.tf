# The shard map of tweets: which partition holds which locations, and where.
data "pgshard_partitions" "tweets" {
  parent = "public.tweets"
}

output "shards" {
  value = {
    for p in data.pgshard_partitions.tweets.partitions : p.name => p.foreign ? "${p.server}: ${p.bound}" : "local: ${p.bound}"
  }
}
