# One region's Docker part: a bridge network, a PostgreSQL container on it with its data on a
# volume, published on 127.0.0.1:db_port, and optionally the tweets API container beside it
# (modules/api).
# The module configures no provider: the caller's docker provider runs it.

locals {
  prefix = "${var.name_prefix}${var.name}"
}

resource "docker_network" "this" {
  name   = local.prefix
  driver = "bridge"

  lifecycle {
    precondition {
      condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", local.prefix))
      error_message = "Docker names its objects after name_prefix and name, ${jsonencode(local.prefix)} here, which must start with a letter or digit and hold only letters, digits, \"_\", \".\" and \"-\": change name or name_prefix."
    }
  }
}

resource "docker_volume" "data" {
  name = "${local.prefix}-db-data"
}

resource "docker_container" "db" {
  name  = "${local.prefix}-db"
  image = var.image
  # Two-phase commit: a change spanning the base and this shard prepares the shard's part
  # and commits it only once every database accepted its own (see DESIGN.md).
  command = ["postgres", "-c", "max_prepared_transactions=16"]
  env = [
    "POSTGRES_USER=${var.user}",
    "POSTGRES_PASSWORD=${var.password}",
    "POSTGRES_DB=${var.dbname}",
  ]
  networks_advanced {
    name = docker_network.this.name
  }
  ports {
    internal = 5432
    external = var.db_port
    ip       = "127.0.0.1"
  }
  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/postgresql/data"
  }
  healthcheck {
    test         = ["CMD", "pg_isready", "-U", var.user, "-d", var.dbname]
    interval     = "1s"
    timeout      = "3s"
    start_period = "2s"
    retries      = 90
  }
  wait         = true
  wait_timeout = 180
  restart      = "unless-stopped"
}

# The tweets API, after api_table (see modules/api for when to call that module directly).
module "api" {
  source = "./modules/api"
  count  = var.api_enabled ? 1 : 0

  name         = var.name
  name_prefix  = var.name_prefix
  image        = var.api_image
  port         = var.api_port
  network      = docker_network.this.name
  db_container = docker_container.db.name
  dbname       = var.dbname
  user         = var.user
  password     = var.password
  table        = var.api_table
}
