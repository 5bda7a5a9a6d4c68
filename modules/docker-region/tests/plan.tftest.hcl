# The plan's shape, offline: the mocked provider needs no Docker engine. Every asserted value
# is configured, so it is known at plan under Terraform and OpenTofu alike.

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

run "database_on_its_own_network" {
  command = plan

  assert {
    condition     = docker_network.this.name == "europe" && docker_network.this.driver == "bridge"
    error_message = "The region needs a bridge network named after it."
  }
  assert {
    condition     = docker_volume.data.name == "europe-db-data"
    error_message = "The database's data volume must be <name>-db-data."
  }
  assert {
    condition     = docker_container.db.name == "europe-db" && docker_container.db.image == "sha256:postgres"
    error_message = "The database container must be <name>-db, of the given image."
  }
  assert {
    condition     = jsonencode(docker_container.db.command) == jsonencode(["postgres", "-c", "max_prepared_transactions=16"])
    error_message = "The database must allow prepared transactions (two-phase commit)."
  }
  assert {
    condition     = jsonencode(sort(docker_container.db.env)) == jsonencode(["POSTGRES_DB=eutweets", "POSTGRES_PASSWORD=pgshard-demo", "POSTGRES_USER=postgres"])
    error_message = "The database container must create user postgres and database eutweets."
  }
  assert {
    condition     = one(docker_container.db.networks_advanced).name == "europe"
    error_message = "The database must be on the region's network."
  }
  assert {
    condition = (
      length(docker_container.db.ports) == 1 && docker_container.db.ports[0].internal == 5432 &&
      docker_container.db.ports[0].external == 5400 && docker_container.db.ports[0].ip == "127.0.0.1"
    )
    error_message = "The database must be published on 127.0.0.1:db_port only."
  }
  assert {
    condition     = one(docker_container.db.volumes).volume_name == "europe-db-data" && one(docker_container.db.volumes).container_path == "/var/lib/postgresql/data"
    error_message = "The database's data must be on its volume."
  }
  assert {
    condition     = jsonencode(docker_container.db.healthcheck[0].test) == jsonencode(["CMD", "pg_isready", "-U", "postgres", "-d", "eutweets"])
    error_message = "The database's health check must be pg_isready for its user and database."
  }
  assert {
    condition     = docker_container.db.healthcheck[0].retries == 90 && docker_container.db.wait && docker_container.db.wait_timeout == 180 && docker_container.db.restart == "unless-stopped"
    error_message = "The database container must be waited for until healthy, as in the example."
  }
}

run "api_beside_the_database" {
  command = plan

  # The container itself is modules/api's, tested there; this checks what docker-region gives it.
  assert {
    condition     = length(module.api) == 1 && module.api[0].container == "europe-api"
    error_message = "api_enabled must run the API container, <name>-api."
  }
  assert {
    condition     = module.api[0].table == "europe_tweets" && module.api[0].url == "http://127.0.0.1:8000"
    error_message = "The API must serve api_table on api_port."
  }
}

run "outputs" {
  command = plan

  assert {
    condition     = output.host == "127.0.0.1" && output.port == 5400 && output.dbname == "eutweets"
    error_message = "host, port and dbname must say how the base reaches the database."
  }
  assert {
    condition     = output.network == "europe" && output.container == "europe-db"
    error_message = "network and container must name the network and the database container."
  }
  assert {
    condition     = output.api_url == "http://127.0.0.1:8000"
    error_message = "api_url must be the API on 127.0.0.1:api_port."
  }
}

run "prefix_user_and_special_password" {
  command = plan

  variables {
    name_prefix = "demo-"
    user        = "app"
    password    = "p@ss:w/rd"
  }

  assert {
    condition = (
      docker_network.this.name == "demo-europe" && docker_volume.data.name == "demo-europe-db-data" &&
      docker_container.db.name == "demo-europe-db" && module.api[0].container == "demo-europe-api" &&
      output.network == "demo-europe" && output.container == "demo-europe-db"
    )
    error_message = "name_prefix must prefix every Docker name."
  }
  assert {
    condition     = contains(docker_container.db.env, "POSTGRES_USER=app") && contains(docker_container.db.env, "POSTGRES_PASSWORD=p@ss:w/rd")
    error_message = "The container must create the given user with the password as given."
  }
  assert {
    condition     = jsonencode(docker_container.db.healthcheck[0].test) == jsonencode(["CMD", "pg_isready", "-U", "app", "-d", "eutweets"])
    error_message = "The health check must use the given user."
  }
}

run "without_api" {
  command = plan

  variables {
    api_enabled = false
    api_image   = null
    api_port    = null
    api_table   = null
  }

  assert {
    condition     = length(module.api) == 0
    error_message = "api_enabled = false must run no API container."
  }
  assert {
    condition     = output.api_url == null
    error_message = "api_url must be null without the API."
  }
  assert {
    condition     = docker_container.db.name == "europe-db" && output.port == 5400
    error_message = "The database must be planned without the API."
  }
}
