output "shard_map" {
  description = "Which partition holds which locations, and on which server (null for the DEFAULT partition, on the base)."
  # Built from the configuration through the module's outputs, not read back from the catalog,
  # so a plan shows every partition it leaves alone as it is, and a new one with its values.
  value = merge(
    {
      for region, p in module.tweets.partitions : p.name => {
        region    = region
        server    = p.server
        locations = p.locations
        bound     = "FOR VALUES IN (${join(", ", [for l in p.locations : "'${replace(l, "'", "''")}'"])})"
        foreign   = true
      }
    },
    {
      (module.tweets.default_partition) = {
        region    = null
        server    = null
        locations = []
        bound     = "DEFAULT"
        foreign   = false
      }
    },
  )
}
