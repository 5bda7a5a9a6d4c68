# The credentials the provider's role uses on the Europe shard. The password is
# write-only (Terraform or OpenTofu 1.11 and later): it is never stored in a plan
# or in state. Bump password_wo_version to set a new one.
resource "pgshard_user_mapping" "europe" {
  server              = pgshard_foreign_server.europe.name
  user                = "eu_app"
  password_wo         = var.europe_password
  password_wo_version = 1
}

# Every other role reaches the shard as a read-only user. `password` works with
# any Terraform version, and is kept in state (marked sensitive).
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
  ephemeral = true # Terraform 1.10+ / OpenTofu 1.11+
}

variable "europe_reader_password" {
  type      = string
  sensitive = true
}
