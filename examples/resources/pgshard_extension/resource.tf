# postgres_fdw carries queries from the base database to the shards.
resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}

# dblink lets pgshard_foreign_partition create the shard's table through the foreign server.
resource "pgshard_extension" "dblink" {
  name    = "dblink"
  schema  = "public"
  version = "1.2"
}
