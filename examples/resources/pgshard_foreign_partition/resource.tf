# The Europe shard of tweets: rows with location 'europe' live in the table
# europe_tweets on the europe server's database, created there by the provider.
resource "pgshard_foreign_partition" "europe" {
  parent    = pgshard_partitioned_table.tweets.id
  name      = "europe_tweets"
  server    = pgshard_foreign_server.europe.name
  values_in = ["europe"]

  create_remote_table = true # needs the dblink extension (pgshard_extension)
  remote_identity = {
    # Rows the regional service writes on the shard get ids from 1e12 on,
    # never colliding with ids handed out by the parent's sequence.
    column    = "id"
    start     = 1000000000000
    increment = 1
  }

  options = {
    fetch_size    = "1000"
    batch_size    = "500"  # insert through the parent in batches
    async_capable = "true" # scan shards in parallel
  }

  depends_on = [pgshard_user_mapping.europe, pgshard_extension.dblink]
}
