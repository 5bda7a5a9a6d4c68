output "parent_id" {
  description = "ID of the partitioned table (\"schema.name\"), the parent of further partitions."
  value       = pgshard_partitioned_table.this.id
}

output "partitions" {
  description = "Each region's partition: its name in the base database (a foreign partition, or with time_partitions a partitioned table), its foreign server, the locations it holds and the name of the table on the region's database that its service uses (with time_partitions, the shard's partitioned table of the periods)."
  value       = local.partitions
}

output "servers" {
  description = "Each region's foreign server name."
  value       = { for name, s in pgshard_foreign_server.region : name => s.name }
}

output "default_partition" {
  description = "Name of the DEFAULT partition, which holds the rows of locations no region lists."
  value       = pgshard_partition.default.name
}

output "periods" {
  description = "With time_partitions, each region's periods (name, from, to, the server holding it, frozen) and premade_until, the end of its last period: a check block can warn before it runs out. Empty without time_partitions."
  value = {
    for name, t in pgshard_time_partitions.region : name => {
      partitions    = t.partitions
      premade_until = t.premade_until
    }
  }
}

output "settings_id" {
  description = "ID of the pgshard_settings that database_settings manages (\"database/role\"), or null without it."
  value       = one(pgshard_settings.queries[*].id)
}
