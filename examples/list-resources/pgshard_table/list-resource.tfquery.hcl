# The plain tables (not partitions) of schema public.
list "pgshard_table" "public" {
  provider = pgshard

  config {
    schema = "public"
  }
}
