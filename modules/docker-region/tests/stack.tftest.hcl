# examples/sharded-tweets as a composition of this module and sharded-table (tests/stack),
# applied against mocked providers: no Docker engine, no database.

mock_provider "docker" {}
mock_provider "pgshard" {}

# Distinct per region at apply, so that a mix-up of regions shows.
override_resource {
  target = module.tweets.pgshard_foreign_partition.split
  values = { remote_table = "canada_shard" }
}

variables {
  regions = {
    europe = { db_port = 5400, api_port = 8000, dbname = "eutweets", table = "europe_tweets", locations = ["europe"], id_start = 1000000000000 }
    usa    = { db_port = 5401, api_port = 8001, dbname = "ustweets", table = "us_tweets", locations = ["usa"], id_start = 2000000000000 }
    canada = { db_port = 5402, api_port = 8002, dbname = "catweets", table = "ca_tweets", locations = ["canada"], id_start = 3000000000000, split_from = "usa" }
  }
}

run "example_as_composition" {
  module {
    source = "./tests/stack"
  }

  # Reaching this far proves there is no dependency cycle: each API waits for its shard
  # table, the shard tables for the regions' databases.
  assert {
    condition     = alltrue([for name, r in var.regions : output.api_tables[name] == output.partitions[name].remote_table])
    error_message = "Each region's API must serve its partition's shard table."
  }
  assert {
    condition     = alltrue([for name, r in var.regions : output.partitions[name].name == r.table && output.partitions[name].server == name])
    error_message = "Each region's partition must be the example's."
  }
  assert {
    condition     = output.api_tables["canada"] == "canada_shard" && output.api_tables["usa"] != "canada_shard"
    error_message = "The split region's API must serve the split partition's shard table."
  }
  assert {
    condition     = alltrue([for name, r in var.regions : output.shard_addresses[name] == "127.0.0.1:${r.db_port}/${r.dbname}"])
    error_message = "The base must reach each region's database on its published port."
  }
  assert {
    condition     = jsonencode(output.api_urls) == jsonencode({ canada = "http://127.0.0.1:8002", europe = "http://127.0.0.1:8000", usa = "http://127.0.0.1:8001" })
    error_message = "Each region's API must be published on its api_port."
  }
}
