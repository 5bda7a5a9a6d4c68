# A stack applied before this example called modules/sharded-table kept the same objects at
# other addresses. These blocks carry it over: the first plan after the upgrade moves the ten
# instances of a two-region stack (whole for_each resources move with every key at once, so no
# block names a region; data.pgshard_partitions.tweets, no longer read, just leaves the state)
# and runs no statement in any database. It does show in-place updates, two per region, of
# settings the module sets and the old example left at their defaults, kept in state only:
# each foreign partition gets move_rows_from_default = true and on_rows_outside_bound =
# "move_to_default" ("fail" with moves_enabled = false), which splits and merges need, and each
# foreign server options = {} instead of null. Apply that plan on its own: split_from set on an
# existing region in the same apply would destroy and re-create its partition. Once every stack
# was applied with them, these blocks can go. TestAccExample_ShardedTweetsSQLMoved checks this.

moved {
  from = pgshard_extension.postgres_fdw
  to   = module.tweets.pgshard_extension.postgres_fdw[0]
}

moved {
  from = pgshard_extension.dblink
  to   = module.tweets.pgshard_extension.dblink[0]
}

moved {
  from = pgshard_partitioned_table.tweets
  to   = module.tweets.pgshard_partitioned_table.this
}

moved {
  from = pgshard_partition.default
  to   = module.tweets.pgshard_partition.default
}

moved {
  from = pgshard_foreign_server.region
  to   = module.tweets.pgshard_foreign_server.region
}

moved {
  from = pgshard_user_mapping.region
  to   = module.tweets.pgshard_user_mapping.region
}

moved {
  from = pgshard_foreign_partition.region
  to   = module.tweets.pgshard_foreign_partition.region
}
