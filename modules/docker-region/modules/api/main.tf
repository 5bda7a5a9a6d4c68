# A region's tweets API container, on the region's network beside its database. It is its own
# module so that a caller can order it after the region's shard table while the shard table
# waits for the region's database: in one module with the database, a reference to the
# region's outputs from the sharded table would wait for the API too (Terraform orders a
# reference to a module instance with a computed key after everything in it), a cycle.

resource "docker_container" "api" {
  name  = "${var.name_prefix}${var.name}-api"
  image = var.image
  env = [
    # urlencode writes a space as "+", which a URL's user, password and path read as itself.
    "POSTGRES_DATABASE_URL=postgres://${replace(urlencode(var.user), "+", "%20")}:${replace(urlencode(var.password), "+", "%20")}@${var.db_container}:5432/${replace(urlencode(var.dbname), "+", "%20")}?sslmode=disable",
    "TWEETS_TABLE=${var.table}",
  ]
  networks_advanced {
    name = var.network
  }
  ports {
    internal = 8000
    external = var.port
    ip       = "127.0.0.1"
  }
  wait         = true
  wait_timeout = 60
  restart      = "unless-stopped"

  lifecycle {
    precondition {
      condition     = var.image != null && var.port != null && var.table != null
      error_message = "The tweets API of region ${jsonencode(var.name)} needs ${join(", ", [for name, value in { image = var.image, port = var.port, table = var.table } : name if value == null])} (api_image, api_port and api_table of docker-region): set them, or turn the API off."
    }
  }
}
