# The settings of the provider's database: its own and each role's in it.
list "pgshard_settings" "all" {
  provider = pgshard
}
