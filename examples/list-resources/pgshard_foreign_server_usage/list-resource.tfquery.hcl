# Every one in the provider's database; config narrows it to one foreign server.
list "pgshard_foreign_server_usage" "all" {
  provider = pgshard
}

list "pgshard_foreign_server_usage" "europe" {
  provider         = pgshard
  include_resource = true # the objects too, for terraform query -generate-config-out

  config {
    server = "europe"
  }
}
