# The credentials the provider's role uses on the Europe shard.
resource "pgshard_user_mapping" "europe" {
  server   = pgshard_foreign_server.europe.name
  user     = "eu_app"
  password = var.europe_password
}

# Every other role reaches the shard as a read-only user.
resource "pgshard_user_mapping" "europe_public" {
  server   = pgshard_foreign_server.europe.name
  role     = "PUBLIC"
  user     = "eu_reader"
  password = var.europe_reader_password
}

resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = "europe-db"
  dbname = "eutweets"
}

variable "europe_password" {
  type      = string
  sensitive = true
}

variable "europe_reader_password" {
  type      = string
  sensitive = true
}
