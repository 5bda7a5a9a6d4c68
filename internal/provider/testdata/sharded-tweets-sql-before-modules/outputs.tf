output "shard_map" {
  description = "Which partition holds which locations, and on which server."
  value = {
    for p in data.pgshard_partitions.tweets.partitions :
    p.name => { server = p.server, bound = p.bound, foreign = p.foreign }
  }
}
