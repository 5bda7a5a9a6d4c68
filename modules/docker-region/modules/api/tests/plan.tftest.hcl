# The API container's plan, offline: the mocked provider needs no Docker engine.

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

run "api_beside_the_database" {
  command = plan

  assert {
    condition     = docker_container.api.name == "europe-api" && docker_container.api.image == "sha256:api"
    error_message = "The API container must be <name>-api, of the given image."
  }
  assert {
    # env is a set: compare it sorted.
    condition = jsonencode(sort(docker_container.api.env)) == jsonencode([
      "POSTGRES_DATABASE_URL=postgres://postgres:pgshard-demo@europe-db:5432/eutweets?sslmode=disable",
      "TWEETS_TABLE=europe_tweets",
    ])
    error_message = "The API must reach the database by container name on the region's network, and serve the table."
  }
  assert {
    condition     = one(docker_container.api.networks_advanced).name == "europe"
    error_message = "The API must be on the region's network."
  }
  assert {
    condition     = length(docker_container.api.ports) == 1 && docker_container.api.ports[0].internal == 8000 && docker_container.api.ports[0].external == 8000 && docker_container.api.ports[0].ip == "127.0.0.1"
    error_message = "The API must be published on 127.0.0.1:port only."
  }
  assert {
    condition     = docker_container.api.wait && docker_container.api.wait_timeout == 60 && docker_container.api.restart == "unless-stopped"
    error_message = "The API container must be waited for, as in the example."
  }
  assert {
    condition     = output.url == "http://127.0.0.1:8000" && output.container == "europe-api" && output.table == "europe_tweets"
    error_message = "Outputs url, container and table must describe the API."
  }
}

run "prefix_user_and_special_password" {
  command = plan

  variables {
    name_prefix  = "demo-"
    user         = "app"
    password     = "p@ss:w/rd"
    db_container = "demo-europe-db"
  }

  assert {
    condition     = docker_container.api.name == "demo-europe-api" && output.container == "demo-europe-api"
    error_message = "name_prefix must prefix the container's name."
  }
  assert {
    condition     = contains(docker_container.api.env, "POSTGRES_DATABASE_URL=postgres://app:p%40ss%3Aw%2Frd@demo-europe-db:5432/eutweets?sslmode=disable")
    error_message = "The API's URL must carry the user and the URL-encoded password."
  }
}

run "spaces_in_password_and_dbname" {
  command = plan

  variables {
    password = "two words+plus"
    dbname   = "eu tweets"
  }

  # urlencode writes a space as "+", which a URL's password and path read as a plus: spaces must
  # be %20, and a real plus %2B.
  assert {
    condition     = contains(docker_container.api.env, "POSTGRES_DATABASE_URL=postgres://postgres:two%20words%2Bplus@europe-db:5432/eu%20tweets?sslmode=disable")
    error_message = "The API's URL must write spaces as %20 in the password and the database name."
  }
}
