# time_partitions, at plan, offline: each region becomes a partitioned table of its locations
# whose periods live on the region's shard and tier to tier_servers, with no foreign partition;
# each failing run breaks exactly one of its rules.

mock_provider "pgshard" {
  mock_resource "pgshard_partitioned_table" {
    defaults = { id = "public.tweets" }
  }
}

variables {
  name          = "tweets"
  partition_key = "location"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "created_at", type = "timestamptz", not_null = true, default = "now()" },
  ]
  regions = {
    europe = { host = "127.0.0.1", dbname = "eutweets", user = "postgres", password = "secret", locations = ["europe"], id_start = 1000000000000, table = "europe_tweets" }
    usa    = { host = "127.0.0.1", dbname = "ustweets", user = "postgres", password = "secret", locations = ["usa", "canada"] }
  }
  time_partitions = {
    column  = "created_at"
    premake = 2
    as_of   = "2026-12-03T00:00:00Z"
    tiers   = [{ after = "3 months", server = "archive" }]
  }
  tier_servers = {
    archive = { host = "127.0.0.1", port = 5409, dbname = "archive", user = "postgres", password = "secret" }
  }
}

run "regions_partitioned_by_time" {
  command = plan
  assert {
    condition     = length(pgshard_foreign_partition.region) == 0 && length(pgshard_foreign_partition.split) == 0
    error_message = "With time_partitions a region is no foreign partition."
  }
  assert {
    condition     = jsonencode(pgshard_partitioned_table.region["usa"].values_in) == jsonencode(["usa", "canada"]) && pgshard_partitioned_table.region["usa"].name == "tweets_usa"
    error_message = "Each region must be a partition of its locations, named like its foreign partition would be."
  }
  assert {
    condition     = pgshard_partitioned_table.region["europe"].partition_by.strategy == "range" && jsonencode(pgshard_partitioned_table.region["europe"].partition_by.key) == jsonencode(["created_at"])
    error_message = "Each region must be partitioned by RANGE on the time column."
  }
  assert {
    condition     = pgshard_time_partitions.region["europe"].server == "europe" && pgshard_time_partitions.region["europe"].remote_parent == "europe_tweets" && pgshard_time_partitions.region["europe"].interval == "1 month" && pgshard_time_partitions.region["europe"].premake == 2
    error_message = "Each region's periods must live on its shard, under the one table its service writes to."
  }
  assert {
    condition     = pgshard_time_partitions.region["europe"].remote_identity.start == 1000000000000 && pgshard_time_partitions.region["usa"].remote_identity == null
    error_message = "The shard's table must take the region's id range, and none without id_start."
  }
  assert {
    condition     = jsonencode(pgshard_time_partitions.region["usa"].tiers) == jsonencode([{ after = "3 months", server = "archive" }]) && pgshard_foreign_server.tier["archive"].port == 5409
    error_message = "Periods must tier to the tier server, which gets a foreign server of its own."
  }
}

run "flat_without_time_partitions" {
  command = plan
  variables {
    time_partitions = null
    tier_servers    = {}
  }
  assert {
    condition     = length(pgshard_foreign_partition.region) == 2 && length(pgshard_partitioned_table.region) == 0 && length(pgshard_time_partitions.region) == 0
    error_message = "Without time_partitions each region is a foreign partition."
  }
}

run "time_column_missing" {
  command = plan
  variables {
    time_partitions = { column = "posted_at" }
  }
  expect_failures = [pgshard_partitioned_table.region]
}

run "split_from_with_time_partitions" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
      uk     = { host = "h", dbname = "d", user = "u", password = "p", locations = ["uk"], split_from = "europe" }
    }
  }
  expect_failures = [pgshard_partitioned_table.region]
}

run "tier_server_missing" {
  command = plan
  variables {
    tier_servers = {}
  }
  expect_failures = [pgshard_time_partitions.region]
}

run "tier_server_named_like_a_region" {
  command = plan
  variables {
    time_partitions = { column = "created_at", tiers = [{ after = "3 months", server = "usa" }] }
    tier_servers = {
      usa = { host = "h", dbname = "d", user = "u", password = "p" }
    }
  }
  expect_failures = [pgshard_foreign_server.tier]
}

run "tier_server_name_not_an_identifier" {
  command = plan
  variables {
    time_partitions = { column = "created_at", tiers = [{ after = "3 months", server = "Cold-Archive" }] }
    tier_servers = {
      Cold-Archive = { host = "h", dbname = "d", user = "u", password = "p" }
    }
  }
  expect_failures = [var.tier_servers]
}

run "no_partitionwise_aggregate_with_time_partitions" {
  command = plan

  variables {
    database_settings = { database = "tweets" }
  }

  assert {
    condition     = pgshard_settings.queries[0].settings == tomap({ enable_partitionwise_join = "on" })
    error_message = "With time_partitions the default settings must leave enable_partitionwise_aggregate out: it turns off the run-time pruning of periods."
  }
}
