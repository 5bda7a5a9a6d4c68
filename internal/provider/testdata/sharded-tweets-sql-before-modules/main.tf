# examples/sharded-tweets-sql as it was before it called modules/sharded-table (kept verbatim
# below this comment): TestAccExample_ShardedTweetsSQL applies it first, then carries the stack
# over to the example with its moved.tf.
# Shard a tweets table by location across existing PostgreSQL servers: one base database
# holding the partitioned parent, and one shard database per region.
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

resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

# dblink lets the provider create each shard's table through its foreign server.
resource "pgshard_extension" "dblink" {
  name = "dblink"
}

resource "pgshard_foreign_server" "region" {
  for_each = var.regions

  name   = each.key
  host   = each.value.host
  port   = each.value.port
  dbname = each.value.dbname

  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" "region" {
  for_each = var.regions

  server   = pgshard_foreign_server.region[each.key].name
  user     = each.value.username
  password = var.shard_passwords[each.key]
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  # A column change here (or in extra_columns) reaches every region's shard table in the same apply.
  columns = concat([
    { name = "id", type = "bigserial", not_null = null, default = null, renamed_from = null },
    { name = "location", type = "text", not_null = true, default = null, renamed_from = null },
    { name = "text", type = "text", not_null = true, default = null, renamed_from = null },
    { name = "owner_id", type = "bigint", not_null = null, default = null, renamed_from = null },
    { name = "like_count", type = "integer", not_null = true, default = "0", renamed_from = null },
  ], var.extra_columns)
  partition_by = {
    strategy = "list"
    key      = ["location"]
  }
  force_destroy = var.force_destroy
}

resource "pgshard_foreign_partition" "region" {
  for_each = var.regions

  parent    = pgshard_partitioned_table.tweets.id
  name      = each.value.table
  server    = pgshard_foreign_server.region[each.key].name
  values_in = each.value.locations

  create_remote_table = true
  remote_identity = {
    column    = "id"
    start     = each.value.id_start
    increment = 1
  }

  options = {
    fetch_size    = "1000"
    batch_size    = "500"
    async_capable = "true"
  }

  depends_on = [pgshard_user_mapping.region, pgshard_extension.dblink]
}

# Rows whose location has no region yet stay on the base database.
resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_default"
  is_default    = true
  force_destroy = var.force_destroy
}

data "pgshard_partitions" "tweets" {
  parent     = pgshard_partitioned_table.tweets.id
  depends_on = [pgshard_foreign_partition.region, pgshard_partition.default]
}
