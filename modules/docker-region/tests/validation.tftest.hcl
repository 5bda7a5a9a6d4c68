# Every check on the inputs, at plan, offline; each failing run breaks exactly one rule. The
# API's own checks (api_image, api_port and api_table set) are modules/api's, tested there: a
# test can expect failures only from the module under test.

mock_provider "docker" {}

variables {
  name      = "europe"
  image     = "sha256:postgres"
  api_image = "sha256:api"
  db_port   = 5400
  api_port  = 8000
  dbname    = "eutweets"
  password  = "pgshard-demo"
  api_table = "europe_tweets"
}

run "db_port_out_of_range" {
  command = plan
  variables {
    db_port = 70000
  }
  expect_failures = [var.db_port]
}

run "db_port_fractional" {
  command = plan
  variables {
    db_port = 5400.5
  }
  expect_failures = [var.db_port]
}

run "api_port_zero" {
  command = plan
  variables {
    api_port = 0
  }
  expect_failures = [var.api_port]
}

run "docker_name_invalid" {
  command = plan
  variables {
    name_prefix = "-"
  }
  expect_failures = [docker_network.this]
}

run "no_api_needs_none_of_its_inputs" {
  command = plan
  variables {
    api_enabled = false
    api_image   = null
    api_port    = null
    api_table   = null
  }
}
