# Integration fixture: one region of the module on the Docker engine, applied and destroyed by
# TestDockerRegionModule (internal/e2e/docker_region_test.go). The API serves a table that no
# configuration creates: the test creates it after the apply (the API answers /healthz once
# the database does, table or not).

provider "docker" {}

resource "docker_image" "postgres" {
  name         = var.postgres_image
  keep_locally = true
}

resource "docker_image" "api" {
  name         = var.api_image
  keep_locally = true
}

module "region" {
  source = "../.."

  name        = "europe"
  name_prefix = var.name_prefix
  image       = docker_image.postgres.image_id
  db_port     = var.db_port
  dbname      = "eutweets"
  password    = var.password
  api_image   = docker_image.api.image_id
  api_port    = var.api_port
  api_table   = "europe_tweets"
}

output "host" {
  value = module.region.host
}

output "port" {
  value = module.region.port
}

output "dbname" {
  value = module.region.dbname
}

output "network" {
  value = module.region.network
}

output "container" {
  value = module.region.container
}

output "api_url" {
  value = module.region.api_url
}
