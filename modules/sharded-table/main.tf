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
  first_regions = { for name, r in var.regions : name => r if r.split_from == null }
  split_regions = { for name, r in var.regions : name => r if r.split_from != null }
  partitions    = merge(pgshard_foreign_partition.region, pgshard_foreign_partition.split)

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
