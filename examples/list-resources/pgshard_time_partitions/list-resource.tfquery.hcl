# The parents that pgshard_time_partitions can keep (RANGE on one date, timestamp or
# timestamptz column), with the periods they hold when imported.
list "pgshard_time_partitions" "all" {
  provider         = pgshard
  include_resource = true
}
