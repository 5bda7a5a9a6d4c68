# The API's checks, at plan, offline. docker-region passes api_image, api_port and api_table
# here, so these are its checks too.

mock_provider "docker" {}

variables {
  name         = "europe"
  image        = "sha256:api"
  port         = 8000
  network      = "europe"
  db_container = "europe-db"
  dbname       = "eutweets"
  password     = "pgshard-demo"
  table        = "europe_tweets"
}

run "without_table" {
  command = plan
  variables {
    table = null
  }
  expect_failures = [docker_container.api]
}

run "without_image_and_port" {
  command = plan
  variables {
    image = null
    port  = null
  }
  expect_failures = [docker_container.api]
}

run "port_out_of_range" {
  command = plan
  variables {
    port = 65536
  }
  expect_failures = [var.port]
}
