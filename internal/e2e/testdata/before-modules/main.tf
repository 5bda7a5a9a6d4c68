# The sharded tweets service in one apply: a PostgreSQL container and a tweets API container
# per region, each region on its own bridge network; a base database that holds the
# partitioned tweets table and reaches each region's database on its published port; and the
# pgshard objects that route each location's rows to its region's database.

locals {
  use_container_base = var.existing_base == null
  base = local.use_container_base ? {
    host     = "127.0.0.1"
    port     = var.base_port
    database = "tweets"
    username = "postgres"
    password = var.postgres_password
  } : var.existing_base
  # Regions split from another region are applied after the regions they take locations
  # from (pgshard_foreign_partition.split depends on .region): the giver's rows of those
  # locations go into DEFAULT first, then the new region takes them from there. A merge runs
  # the other way: the split region's partition is destroyed (its rows into DEFAULT) before
  # the region it names widens over them.
  first_regions = { for name, r in var.regions : name => r if r.split_from == null }
  split_regions = { for name, r in var.regions : name => r if r.split_from != null }
  partitions    = merge(pgshard_foreign_partition.region, pgshard_foreign_partition.split)
  # How the base database's server reaches each shard: on the shard's published port, from
  # the host's network (the base container runs there too). The base joins no region's
  # network: a container's networks cannot change without replacing it, so adding a region
  # would restart the base, and every query through it would fail meanwhile.
  shard_address = {
    for name, r in var.regions : name => { host = "127.0.0.1", port = r.db_port }
  }
}

provider "docker" {}

provider "pgshard" {
  host            = local.base.host
  port            = local.base.port
  database        = local.base.database
  username        = local.base.username
  password        = local.base.password
  sslmode         = "disable"
  connect_timeout = 120
}

resource "docker_image" "postgres" {
  name         = var.postgres_image
  keep_locally = true
}

resource "docker_image" "api" {
  name         = var.api_image
  keep_locally = true
}

resource "docker_network" "region" {
  for_each = var.regions
  name     = "${var.name_prefix}${each.key}"
  driver   = "bridge"
}

resource "docker_volume" "region" {
  for_each = var.regions
  name     = "${var.name_prefix}${each.key}-db-data"
}

resource "docker_container" "region_db" {
  for_each = var.regions
  name     = "${var.name_prefix}${each.key}-db"
  image    = docker_image.postgres.image_id
  # Two-phase commit: a change spanning the base and this shard prepares the shard's part
  # and commits it only once every database accepted its own (see DESIGN.md).
  command = ["postgres", "-c", "max_prepared_transactions=16"]
  env = [
    "POSTGRES_USER=postgres",
    "POSTGRES_PASSWORD=${var.postgres_password}",
    "POSTGRES_DB=${each.value.dbname}",
  ]
  networks_advanced {
    name = docker_network.region[each.key].name
  }
  ports {
    internal = 5432
    external = each.value.db_port
    ip       = "127.0.0.1"
  }
  volumes {
    volume_name    = docker_volume.region[each.key].name
    container_path = "/var/lib/postgresql/data"
  }
  healthcheck {
    test         = ["CMD", "pg_isready", "-U", "postgres", "-d", each.value.dbname]
    interval     = "1s"
    timeout      = "3s"
    start_period = "2s"
    retries      = 90
  }
  wait         = true
  wait_timeout = 180
  restart      = "unless-stopped"
}

resource "docker_volume" "base" {
  count = local.use_container_base ? 1 : 0
  name  = "${var.name_prefix}base-db-data"
}

resource "docker_container" "base_db" {
  count = local.use_container_base ? 1 : 0
  name  = "${var.name_prefix}base-db"
  image = docker_image.postgres.image_id
  # On the host's network, listening on the loopback address only, at base_port.
  network_mode = "host"
  command      = ["postgres", "-c", "port=${var.base_port}", "-c", "listen_addresses=127.0.0.1"]
  env = [
    "POSTGRES_USER=postgres",
    "POSTGRES_PASSWORD=${var.postgres_password}",
    "POSTGRES_DB=tweets",
  ]
  volumes {
    volume_name    = docker_volume.base[0].name
    container_path = "/var/lib/postgresql/data"
  }
  healthcheck {
    test         = ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", tostring(var.base_port), "-U", "postgres", "-d", "tweets"]
    interval     = "1s"
    timeout      = "3s"
    start_period = "2s"
    retries      = 90
  }
  wait         = true
  wait_timeout = 180
  restart      = "unless-stopped"
}

# Everything below runs in the base database, once it (and the shards) answer.

resource "pgshard_extension" "postgres_fdw" {
  name       = "postgres_fdw"
  depends_on = [docker_container.base_db]
}

resource "pgshard_extension" "dblink" {
  name       = "dblink"
  depends_on = [docker_container.base_db]
}

resource "pgshard_foreign_server" "region" {
  for_each = var.regions
  name     = each.key
  host     = local.shard_address[each.key].host
  port     = local.shard_address[each.key].port
  dbname   = each.value.dbname
  options = {
    async_capable = "true"
    fetch_size    = "1000"
  }
  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_user_mapping" "region" {
  for_each = var.regions
  server   = pgshard_foreign_server.region[each.key].name
  user     = "postgres"
  password = var.postgres_password
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  # A column added here (or in extra_columns) reaches every region's shard table in the same
  # apply, before the base table shows it: the regional APIs keep serving throughout.
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
  depends_on    = [docker_container.base_db]
}

resource "pgshard_foreign_partition" "region" {
  for_each  = local.first_regions
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
    batch_size = "500"
  }
  # A region that gives locations away (or goes, its database with it) moves their rows into
  # DEFAULT, verified, before the region that takes them is created or widened; a region takes
  # the DEFAULT rows its bound admits.
  on_rows_outside_bound  = var.moves_enabled ? "move_to_default" : "fail"
  move_rows_from_default = true
  depends_on             = [pgshard_user_mapping.region, pgshard_extension.dblink, docker_container.region_db]
}

# Regions split from another one: the same, applied after the regions above.
resource "pgshard_foreign_partition" "split" {
  for_each  = local.split_regions
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
    batch_size = "500"
  }
  on_rows_outside_bound  = var.moves_enabled ? "move_to_default" : "fail"
  move_rows_from_default = true
  depends_on             = [pgshard_foreign_partition.region, pgshard_user_mapping.region, pgshard_extension.dblink, docker_container.region_db]
}

resource "pgshard_partition" "default" {
  parent        = pgshard_partitioned_table.tweets.id
  name          = "tweets_default"
  is_default    = true
  force_destroy = var.force_destroy
}

resource "docker_container" "api" {
  for_each = var.regions
  name     = "${var.name_prefix}${each.key}-api"
  image    = docker_image.api.image_id
  env = [
    "POSTGRES_DATABASE_URL=postgres://postgres:${urlencode(var.postgres_password)}@${docker_container.region_db[each.key].name}:5432/${each.value.dbname}?sslmode=disable",
    "TWEETS_TABLE=${local.partitions[each.key].remote_table}",
  ]
  networks_advanced {
    name = docker_network.region[each.key].name
  }
  ports {
    internal = 8000
    external = each.value.api_port
    ip       = "127.0.0.1"
  }
  wait         = true
  wait_timeout = 60
  restart      = "unless-stopped"
}
