# A stack applied before this example called the modules (pgshard 0.x up to the modules) kept
# the same objects at other addresses. These blocks carry it over: the first plan after the
# upgrade only moves them, and changes nothing. moved blocks take no for_each, so there is
# one per region key; a stack with regions other than the default europe and usa adds the
# same blocks for its own keys (replace "europe" below), and the regions split off later add
# theirs too (their pgshard_foreign_partition.split becomes module.tweets.pgshard_foreign_partition.split).
# Once every stack was applied with them, they can go.

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

# Whole for_each resources move with every key at once.
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

moved {
  from = pgshard_foreign_partition.split
  to   = module.tweets.pgshard_foreign_partition.split
}

# Docker objects go into one module instance per region: one block per key.
moved {
  from = docker_network.region["europe"]
  to   = module.region["europe"].docker_network.this
}

moved {
  from = docker_volume.region["europe"]
  to   = module.region["europe"].docker_volume.data
}

moved {
  from = docker_container.region_db["europe"]
  to   = module.region["europe"].docker_container.db
}

moved {
  from = docker_container.api["europe"]
  to   = module.api["europe"].docker_container.api
}

moved {
  from = docker_network.region["usa"]
  to   = module.region["usa"].docker_network.this
}

moved {
  from = docker_volume.region["usa"]
  to   = module.region["usa"].docker_volume.data
}

moved {
  from = docker_container.region_db["usa"]
  to   = module.region["usa"].docker_container.db
}

moved {
  from = docker_container.api["usa"]
  to   = module.api["usa"].docker_container.api
}
