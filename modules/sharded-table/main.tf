# A table sharded by LIST on one column across regional databases: the partitioned parent and
# its DEFAULT partition in the base database, and per region a foreign server, a user mapping
# and a foreign partition whose shard table the provider creates on the region's database.
# The module configures no provider: the caller's pgshard provider connects to the base.

locals {
  # Regions split from another region are applied after the regions they take locations
  # from (pgshard_foreign_partition.split depends on .region): the giver's rows of those
  # locations go into DEFAULT first, then the new region takes them from there. A merge runs
  # the other way: the split region's partition is destroyed (its rows into DEFAULT) before
  # the region it names widens over them.
  # With time_partitions, each region is instead a partition of the table partitioned again
  # by RANGE on the time column (pgshard_partitioned_table.region), whose periods
  # pgshard_time_partitions.region keeps on the region's shard.
  timed         = var.time_partitions != null
  timed_regions = local.timed ? var.regions : {}
  first_regions = { for name, r in var.regions : name => r if r.split_from == null && !local.timed }
  split_regions = { for name, r in var.regions : name => r if r.split_from != null && !local.timed }
  partitions = local.timed ? {
    for name, t in pgshard_partitioned_table.region : name => {
      name         = t.name
      server       = pgshard_foreign_server.region[name].name
      locations    = t.values_in
      remote_table = pgshard_time_partitions.region[name].remote_parent
    }
    } : {
    for name, p in merge(pgshard_foreign_partition.region, pgshard_foreign_partition.split) : name => {
      name         = p.name
      server       = p.server
      locations    = p.values_in
      remote_table = p.remote_table
    }
  }

  tables            = { for name, r in var.regions : name => coalesce(r.table, "${var.name}_${name}") }
  on_rows_outside   = var.moves_enabled ? "move_to_default" : "fail"
  column_names      = [for c in var.columns : c.name]
  serial_types      = ["smallserial", "serial", "bigserial", "serial2", "serial4", "serial8"]
  id_column_type    = try(one([for c in var.columns : lower(c.type) if c.name == var.id_column]), null)
  base_has_sequence = contains(local.serial_types, coalesce(local.id_column_type, "-"))
}

resource "pgshard_extension" "postgres_fdw" {
  count = var.create_extensions ? 1 : 0
  name  = "postgres_fdw"
}

resource "pgshard_extension" "dblink" {
  count = var.create_extensions ? 1 : 0
  name  = "dblink"
}

resource "pgshard_foreign_server" "region" {
  for_each   = var.regions
  name       = each.key
  host       = each.value.host
  port       = each.value.port
  dbname     = each.value.dbname
  options    = each.value.server_options
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" "region" {
  for_each = var.regions
  server   = pgshard_foreign_server.region[each.key].name
  user     = each.value.user
  password = sensitive(each.value.password)
}

resource "pgshard_partitioned_table" "this" {
  name    = var.name
  schema  = var.schema
  columns = var.columns
  partition_by = {
    strategy = "list"
    key      = [var.partition_key]
  }
  force_destroy = var.force_destroy

  lifecycle {
    precondition {
      condition     = contains(local.column_names, var.partition_key)
      error_message = "partition_key = ${jsonencode(var.partition_key)} is not one of the columns (${join(", ", local.column_names)}): name the column whose value decides a row's region."
    }
  }
}

resource "pgshard_foreign_partition" "region" {
  for_each  = local.first_regions
  parent    = pgshard_partitioned_table.this.id
  schema    = var.schema
  name      = local.tables[each.key]
  server    = pgshard_foreign_server.region[each.key].name
  values_in = each.value.locations

  create_remote_table = true
  remote_identity = each.value.id_start == null ? null : {
    column    = var.id_column
    start     = each.value.id_start
    increment = var.id_increment
  }
  options = each.value.partition_options
  # A region that gives locations away (or goes, its database with it) moves their rows into
  # DEFAULT, verified, before the region that takes them is created or widened; a region takes
  # the DEFAULT rows its bound admits.
  on_rows_outside_bound  = local.on_rows_outside
  move_rows_from_default = true
  depends_on             = [pgshard_user_mapping.region, pgshard_extension.dblink]

  lifecycle {
    precondition {
      condition     = each.value.id_start == null || contains(local.column_names, var.id_column)
      error_message = "Region ${jsonencode(each.key)} has an id_start, but id_column = ${jsonencode(var.id_column)} is not one of the columns (${join(", ", local.column_names)}): set id_column to the id column, or remove id_start."
    }
    precondition {
      condition     = !(local.base_has_sequence && each.value.id_start == 1)
      error_message = "Region ${jsonencode(each.key)} has id_start = 1, where the base table's own sequence starts (column ${jsonencode(var.id_column)} is ${coalesce(local.id_column_type, "-")}): ids written on the shard and through the base would collide. Start the region above the ids the base hands out, such as 1000000000000."
    }
  }
}

# Regions split from another one: the same, applied after the regions above.
resource "pgshard_foreign_partition" "split" {
  for_each  = local.split_regions
  parent    = pgshard_partitioned_table.this.id
  schema    = var.schema
  name      = local.tables[each.key]
  server    = pgshard_foreign_server.region[each.key].name
  values_in = each.value.locations

  create_remote_table = true
  remote_identity = each.value.id_start == null ? null : {
    column    = var.id_column
    start     = each.value.id_start
    increment = var.id_increment
  }
  options                = each.value.partition_options
  on_rows_outside_bound  = local.on_rows_outside
  move_rows_from_default = true
  depends_on             = [pgshard_foreign_partition.region, pgshard_user_mapping.region, pgshard_extension.dblink]

  lifecycle {
    precondition {
      condition     = each.value.id_start == null || contains(local.column_names, var.id_column)
      error_message = "Region ${jsonencode(each.key)} has an id_start, but id_column = ${jsonencode(var.id_column)} is not one of the columns (${join(", ", local.column_names)}): set id_column to the id column, or remove id_start."
    }
    precondition {
      condition     = !(local.base_has_sequence && each.value.id_start == 1)
      error_message = "Region ${jsonencode(each.key)} has id_start = 1, where the base table's own sequence starts (column ${jsonencode(var.id_column)} is ${coalesce(local.id_column_type, "-")}): ids written on the shard and through the base would collide. Start the region above the ids the base hands out, such as 1000000000000."
    }
  }
}

resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.this.id
  schema        = var.schema
  name          = coalesce(var.default_partition_name, "${var.name}_default")
  is_default    = true
  force_destroy = var.force_destroy
}

# Servers that periods tier to (time_partitions.tiers names them by key).
resource "pgshard_foreign_server" "tier" {
  for_each   = var.tier_servers
  name       = each.key
  host       = each.value.host
  port       = each.value.port
  dbname     = each.value.dbname
  options    = each.value.server_options
  depends_on = [pgshard_extension.postgres_fdw]

  lifecycle {
    precondition {
      condition     = !contains(keys(var.regions), each.key)
      error_message = "Tier server ${jsonencode(each.key)} has the name of a region, and each names a foreign server of its own: give the tier server another key, such as ${jsonencode("${each.key}_archive")}."
    }
  }
}

resource "pgshard_user_mapping" "tier" {
  for_each = var.tier_servers
  server   = pgshard_foreign_server.tier[each.key].name
  user     = each.value.user
  password = sensitive(each.value.password)
}

# With time_partitions: a region is a LIST partition of the table that is itself partitioned
# by RANGE on the time column.
resource "pgshard_partitioned_table" "region" {
  for_each  = local.timed_regions
  parent    = pgshard_partitioned_table.this.id
  schema    = var.schema
  name      = local.tables[each.key]
  values_in = each.value.locations
  partition_by = {
    strategy = "range"
    key      = [var.time_partitions.column]
  }
  force_destroy = var.force_destroy

  lifecycle {
    precondition {
      condition     = contains(local.column_names, var.time_partitions.column)
      error_message = "time_partitions.column = ${jsonencode(var.time_partitions.column)} is not one of the columns (${join(", ", local.column_names)}): name the date, timestamp or timestamptz column the periods split on."
    }
    precondition {
      condition     = each.value.split_from == null
      error_message = "Region ${jsonencode(each.key)} has split_from, but with time_partitions a region's locations are a partitioned table's bound, which pgshard does not move rows across yet: remove split_from (and keep the region's locations), or set time_partitions = null."
    }
  }
}

# The region's periods: foreign partitions of pgshard_partitioned_table.region whose shard
# tables are partitions of one table on the region's shard (remote_parent), the one table the
# region's service writes to; periods old enough move, whole, to a tier server.
resource "pgshard_time_partitions" "region" {
  for_each      = local.timed_regions
  parent        = pgshard_partitioned_table.region[each.key].id
  interval      = var.time_partitions.interval
  start         = var.time_partitions.start
  premake       = var.time_partitions.premake
  as_of         = var.time_partitions.as_of
  server        = pgshard_foreign_server.region[each.key].name
  remote_parent = local.tables[each.key]
  remote_identity = each.value.id_start == null ? null : {
    column    = var.id_column
    start     = each.value.id_start
    increment = var.id_increment
  }
  # A tier's server through its user mapping, so that the mapping exists before a period moves.
  tiers         = [for t in var.time_partitions.tiers : { after = t.after, server = try(pgshard_user_mapping.tier[t.server].server, t.server) }]
  retention     = var.time_partitions.retention
  force_destroy = var.force_destroy
  depends_on    = [pgshard_user_mapping.region, pgshard_extension.dblink]

  lifecycle {
    precondition {
      condition     = alltrue([for t in var.time_partitions.tiers : contains(keys(var.tier_servers), t.server)])
      error_message = "time_partitions.tiers names ${join(", ", [for t in var.time_partitions.tiers : format("%q", t.server) if !contains(keys(var.tier_servers), t.server)])}, which tier_servers does not have: add it to tier_servers (with how the base reaches it), or name one of ${jsonencode(keys(var.tier_servers))}."
    }
    precondition {
      condition     = each.value.id_start == null || contains(local.column_names, var.id_column)
      error_message = "Region ${jsonencode(each.key)} has an id_start, but id_column = ${jsonencode(var.id_column)} is not one of the columns (${join(", ", local.column_names)}): set id_column to the id column, or remove id_start."
    }
  }
}

# The planner settings of the sessions that query the table (database_settings).
resource "pgshard_settings" "queries" {
  count    = var.database_settings == null ? 0 : 1
  database = var.database_settings.database
  role     = var.database_settings.role
  settings = coalesce(var.database_settings.settings, merge(
    { enable_partitionwise_join = "on" },
    local.timed ? {} : { enable_partitionwise_aggregate = "on" },
  ))
}
