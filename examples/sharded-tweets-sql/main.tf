# Shard a tweets table by location across existing PostgreSQL servers: one base database
# holding the partitioned parent, and one shard database per region (modules/sharded-table).
terraform {
  required_version = ">= 1.5"
  required_providers {
    pgshard = {
      source = "pgshard/pgshard"
    }
  }
}

provider "pgshard" {
  host     = var.base.host
  port     = var.base.port
  database = var.base.database
  username = var.base.username
  password = var.base.password
  sslmode  = var.base.sslmode
}

module "tweets" {
  source = "../../modules/sharded-table"

  name = "tweets"
  # A column change here (or in extra_columns) reaches every region's shard table in the same apply.
  columns = concat([
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
    { name = "owner_id", type = "bigint" },
    { name = "like_count", type = "integer", not_null = true, default = "0" },
  ], var.extra_columns)
  partition_key = "location"
  regions = {
    for name, r in var.regions : name => {
      host       = r.host
      port       = r.port
      dbname     = r.dbname
      user       = r.username
      password   = var.shard_passwords[name]
      locations  = r.locations
      id_start   = r.id_start
      split_from = r.split_from
      table      = r.table
      # The options this example has always set, all on the foreign tables and none on the
      # servers, so that a stack applied before the module keeps them (see moved.tf).
      server_options    = {}
      partition_options = { fetch_size = "1000", batch_size = "500", async_capable = "true" }
    }
  }
  # New sessions of the base database aggregate and join per shard: a GROUP BY across
  # regions gets each shard's counts instead of its rows (see the Performance guide).
  database_settings = { database = var.base.database }
  # Rows whose location has no region yet stay in this partition on the base database.
  default_partition_name = "tweets_default"
  force_destroy          = var.force_destroy
  moves_enabled          = var.moves_enabled
}
