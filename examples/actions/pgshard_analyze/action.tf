# Statistics for the shards' rows: run it once the rows are loaded, and after large changes.
#   terraform apply -invoke=action.pgshard_analyze.tweets
action "pgshard_analyze" "tweets" {
  config {
    parent = pgshard_partitioned_table.tweets.id
  }
}

# Or each time a region is added: after its foreign partition is created.
resource "pgshard_foreign_partition" "asia" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "tweets_asia"
  server              = pgshard_foreign_server.asia.name
  values_in           = ["asia"]
  create_remote_table = true

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.pgshard_analyze.tweets]
    }
  }
}
