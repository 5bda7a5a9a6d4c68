# Fails, naming each partition and its count, when a row is outside the partition its key
# belongs to (such as a row written on a shard directly after its CHECK was dropped):
#   terraform apply -invoke=action.pgshard_verify_residency.tweets
action "pgshard_verify_residency" "tweets" {
  config {
    parent = pgshard_partitioned_table.tweets.id
  }
}
