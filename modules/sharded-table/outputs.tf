output "parent_id" {
  description = "ID of the partitioned table (\"schema.name\"), the parent of further partitions."
  value       = pgshard_partitioned_table.this.id
}

output "partitions" {
  description = "Each region's foreign partition: its name in the base database, its foreign server, the locations it holds and the name of its shard table on the region's database."
  value = {
    for name, p in local.partitions : name => {
      name         = p.name
      server       = p.server
      locations    = p.values_in
      remote_table = p.remote_table
    }
  }
}

output "servers" {
  description = "Each region's foreign server name."
  value       = { for name, s in pgshard_foreign_server.region : name => s.name }
}

output "default_partition" {
  description = "Name of the DEFAULT partition, which holds the rows of locations no region lists."
  value       = pgshard_partition.default.name
}
