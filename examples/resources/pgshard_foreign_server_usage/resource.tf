# The reporting role may use the Europe server: it can have a user mapping of its own there
# and create foreign tables on it, without owning the server.
resource "pgshard_foreign_server_usage" "reporting" {
  server = pgshard_foreign_server.europe.name
  role   = "reporting"
}

# The team lead's role may also pass USAGE on to others.
resource "pgshard_foreign_server_usage" "team_lead" {
  server            = pgshard_foreign_server.europe.name
  role              = "team_lead"
  with_grant_option = true
}

# Every role, present and future, may use the server (PUBLIC cannot hold the grant option).
resource "pgshard_foreign_server_usage" "europe_public" {
  server = pgshard_foreign_server.europe.name
  role   = "PUBLIC"
}

resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = "europe-db"
  dbname = "eutweets"
}
