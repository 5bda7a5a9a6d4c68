# The Europe shard, as the base database reaches it.
resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = "europe-db" # a container name on the shared Docker network, or a host name
  port   = 5432
  dbname = "eutweets"

  options = {
    fetch_size       = "1000"
    async_capable    = "true" # scan shards in parallel
    keep_connections = "on"
  }

  depends_on = [pgshard_extension.postgres_fdw]
}

resource "pgshard_extension" "postgres_fdw" {
  name = "postgres_fdw"
}
