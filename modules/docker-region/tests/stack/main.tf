# Test fixture: examples/sharded-tweets as a composition of the two modules, as the example
# would be rewritten. stack.tftest.hcl applies it against mocked providers, which shows that the
# wiring has no dependency cycle (each region's API waits for its shard table, the shard tables
# for the regions' databases) and reproduces the example's objects.

terraform {
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 3.0"
    }
    pgshard = {
      source = "pgshard/pgshard"
    }
  }
}

variable "regions" {
  description = "The example's regions."
  type = map(object({
    db_port    = number
    api_port   = number
    dbname     = string
    table      = string
    locations  = list(string)
    id_start   = number
    split_from = optional(string)
  }))
}

variable "postgres_password" {
  description = "Password of the postgres user in every database container."
  type        = string
  default     = "pgshard-demo"
  sensitive   = true
}

resource "docker_image" "postgres" {
  name         = "postgres:17"
  keep_locally = true
}

resource "docker_image" "api" {
  name         = "pgshard/tweets-api:local"
  keep_locally = true
}

resource "docker_container" "base_db" {
  name         = "base-db"
  image        = docker_image.postgres.image_id
  network_mode = "host"
  command      = ["postgres", "-c", "port=5433", "-c", "listen_addresses=127.0.0.1"]
  env          = ["POSTGRES_PASSWORD=${var.postgres_password}", "POSTGRES_DB=tweets"]
}

module "region" {
  source   = "../.."
  for_each = var.regions

  name        = each.key
  image       = docker_image.postgres.image_id
  db_port     = each.value.db_port
  dbname      = each.value.dbname
  password    = var.postgres_password
  api_enabled = false
}

# The API beside each region's database, after its shard table: a module call of its own, since
# module.tweets waits for all of module.region (it reads module.region[name]).
module "api" {
  source   = "../../modules/api"
  for_each = var.regions

  name         = each.key
  image        = docker_image.api.image_id
  port         = each.value.api_port
  network      = module.region[each.key].network
  db_container = module.region[each.key].container
  dbname       = each.value.dbname
  password     = var.postgres_password
  table        = module.tweets.partitions[each.key].remote_table
}

module "tweets" {
  source = "../../../sharded-table"

  name          = "tweets"
  partition_key = "location"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
    { name = "owner_id", type = "bigint" },
    { name = "like_count", type = "integer", not_null = true, default = "0" },
  ]
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
  force_destroy = true
  depends_on    = [docker_container.base_db]
}

output "api_urls" {
  description = "The tweets API of each region."
  value       = { for name, m in module.api : name => m.url }
}

output "partitions" {
  description = "Each region's partition."
  value       = module.tweets.partitions
}

output "api_tables" {
  description = "The shard table each region's API serves."
  value       = { for name, m in module.api : name => m.table }
}

output "shard_addresses" {
  description = "How the base reaches each region's database, from the regions' outputs."
  value       = { for name, m in module.region : name => "${m.host}:${m.port}/${m.dbname}" }
}
