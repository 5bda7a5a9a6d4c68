# Every extension installed in the provider's database (plpgsql aside).
list "pgshard_extension" "all" {
  provider = pgshard
}
