# The sharded tweets service in one apply: a PostgreSQL container and a tweets API container
# per region, each region on its own bridge network (modules/docker-region); a base database
# that holds the partitioned tweets table and reaches each region's database on its published
# port; and the pgshard objects that route each location's rows to its region's database
# (modules/sharded-table).

locals {
  monthly            = var.time_partitions != null
  use_container_base = var.existing_base == null
  base = local.use_container_base ? {
    host     = "127.0.0.1"
    port     = var.base_port
    database = "tweets"
    username = "postgres"
    password = var.postgres_password
  } : var.existing_base
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

# One region's network, database and volume each.
module "region" {
  source   = "../../modules/docker-region"
  for_each = var.regions

  name        = each.key
  name_prefix = var.name_prefix
  image       = docker_image.postgres.image_id
  db_port     = each.value.db_port
  dbname      = each.value.dbname
  user        = "postgres"
  password    = var.postgres_password
  # The API is called below, after the shard table exists (see modules/docker-region/modules/api).
  api_enabled = false
}

# With time_partitions: the archive that months older than archive_after move to, a PostgreSQL
# container of its own (no API: the base table serves archived months).
module "archive" {
  source = "../../modules/docker-region"
  count  = local.monthly ? 1 : 0

  name        = "archive"
  name_prefix = var.name_prefix
  image       = docker_image.postgres.image_id
  db_port     = var.archive_port
  dbname      = "archive"
  user        = "postgres"
  password    = var.postgres_password
  api_enabled = false
}

# The tweets table in the base database, a foreign partition per region. The regions' host,
# port and dbname come from module.region: each partition waits for its region's database.
module "tweets" {
  source = "../../modules/sharded-table"

  name = "tweets"
  # A column added here (or in extra_columns) reaches every region's shard table in the same
  # apply, before the base table shows it: the regional APIs keep serving throughout.
  columns = concat([
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
    { name = "owner_id", type = "bigint" },
    { name = "like_count", type = "integer", not_null = true, default = "0" },
    ], local.monthly ? [
    # The month a tweet belongs to: its API leaves it out, so the shard's default sets it.
    { name = "created_at", type = "timestamptz", not_null = true, default = "now()" },
  ] : [], var.extra_columns)
  partition_key = "location"
  regions = {
    for name, r in var.regions : name => {
      host       = module.region[name].host
      port       = module.region[name].port
      dbname     = module.region[name].dbname
      user       = "postgres"
      password   = var.postgres_password
      locations  = r.locations
      id_start   = r.id_start
      split_from = r.split_from
      table      = r.table
    }
  }
  force_destroy          = var.force_destroy
  moves_enabled          = var.moves_enabled
  default_partition_name = "tweets_default"
  # New sessions of the base database aggregate and join per shard: a GROUP BY across
  # regions gets each shard's counts instead of its rows (see the Performance guide).
  database_settings = { database = local.base.database }

  # Each region partitioned by month: recent months on the region's shard, where its API
  # writes to one table; months that ended archive_after before as_of on the archive.
  time_partitions = local.monthly ? {
    column   = "created_at"
    interval = "1 month"
    start    = var.time_partitions.start
    premake  = var.time_partitions.premake
    as_of    = var.time_partitions.as_of
    tiers    = [{ after = var.time_partitions.archive_after, server = "archive" }]
  } : null
  tier_servers = local.monthly ? {
    archive = {
      host     = module.archive[0].host
      port     = module.archive[0].port
      dbname   = module.archive[0].dbname
      user     = "postgres"
      password = var.postgres_password
    }
  } : {}

  depends_on = [docker_container.base_db]
}

# Each region's tweets API, on the region's network, serving its shard table.
module "api" {
  source   = "../../modules/docker-region/modules/api"
  for_each = var.regions

  name         = each.key
  name_prefix  = var.name_prefix
  image        = docker_image.api.image_id
  port         = each.value.api_port
  network      = module.region[each.key].network
  db_container = module.region[each.key].container
  dbname       = each.value.dbname
  user         = "postgres"
  password     = var.postgres_password
  table        = module.tweets.partitions[each.key].remote_table
}
