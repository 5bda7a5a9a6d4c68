# Outputs built from computed values (the table's id, each shard table's name) are unknown at
# plan under Terraform, so this file applies, against the mocked provider: nothing is created.
# OpenTofu's override_resource takes no instance key, so each of the two partition resources
# gets one region and its own remote_table.

mock_provider "pgshard" {
  mock_resource "pgshard_partitioned_table" {
    defaults = { id = "public.tweets" }
  }
}

override_resource {
  target = pgshard_foreign_partition.region
  values = { remote_table = "europe_tweets" }
}

override_resource {
  target = pgshard_foreign_partition.split
  values = { remote_table = "asia_tweets" }
}

variables {
  name          = "tweets"
  partition_key = "location"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
  ]
  regions = {
    europe = { host = "127.0.0.1", port = 5400, dbname = "eutweets", user = "postgres", password = "secret", locations = ["europe"], id_start = 1000000000000 }
    asia   = { host = "127.0.0.1", port = 5402, dbname = "astweets", user = "postgres", password = "secret", locations = ["asia"], id_start = 3000000000000, split_from = "europe" }
  }
}

run "outputs_after_apply" {
  assert {
    condition     = output.parent_id == "public.tweets"
    error_message = "Output parent_id must be the partitioned table's id."
  }
  assert {
    condition     = pgshard_partition.default.parent == "public.tweets" && alltrue([for p in merge(pgshard_foreign_partition.region, pgshard_foreign_partition.split) : p.parent == "public.tweets"])
    error_message = "Every partition must attach to the partitioned table."
  }
  assert {
    condition     = output.partitions["europe"].remote_table == "europe_tweets" && output.partitions["asia"].remote_table == "asia_tweets"
    error_message = "Output partitions must carry each region's shard table."
  }
  assert {
    condition     = output.partitions["asia"].name == "tweets_asia" && output.partitions["asia"].server == "asia" && jsonencode(output.partitions["asia"].locations) == jsonencode(["asia"])
    error_message = "Output partitions must describe split regions too."
  }
  assert {
    condition     = jsonencode(output.servers) == jsonencode({ asia = "asia", europe = "europe" }) && output.default_partition == "tweets_default"
    error_message = "Outputs servers and default_partition must survive the apply."
  }
}
