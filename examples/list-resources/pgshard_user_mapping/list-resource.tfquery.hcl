# Every one in the provider's database; config narrows it to one foreign server.
list "pgshard_user_mapping" "all" {
  provider = pgshard
}

list "pgshard_user_mapping" "europe" {
  provider         = pgshard
  include_resource = true # the objects too, for terraform query -generate-config-out

  config {
    server = "europe"
  }
}
