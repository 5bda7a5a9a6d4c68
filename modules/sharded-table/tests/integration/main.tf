# Integration fixture: the module applied against real clusters by TestAccModule_ShardedTable
# (internal/provider/module_sharded_table_test.go), which changes regions between applies.

provider "pgshard" {
  host     = var.base.host
  port     = var.base.port
  database = var.base.database
  username = var.base.username
  password = var.base.password
  sslmode  = "disable"
}

module "table" {
  source = "../.."

  name          = "tweets"
  partition_key = "location"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
  ]
  regions = {
    for name, r in var.regions : name => {
      host       = r.host
      port       = r.port
      dbname     = r.dbname
      user       = r.user
      password   = var.passwords[name]
      locations  = r.locations
      id_start   = r.id_start
      split_from = r.split_from
      table      = r.table
    }
  }
  # The test's databases are thrown away; destroy may drop DEFAULT with its rows.
  force_destroy = true
}

output "parent_id" {
  value = module.table.parent_id
}

output "partitions" {
  value = module.table.partitions
}

output "servers" {
  value = module.table.servers
}

output "default_partition" {
  value = module.table.default_partition
}
