# The plan's shape, offline: the mocked provider needs no database. Only configured values are
# asserted: Terraform leaves computed ones (ids, remote_table) unknown at plan, where OpenTofu
# fills them with mock values, so outputs.tftest.hcl checks those after a mocked apply.

mock_provider "pgshard" {}

variables {
  name          = "tweets"
  partition_key = "location"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text", not_null = true },
    { name = "owner_id", type = "bigint" },
    { name = "like_count", type = "integer", not_null = true, default = "0" },
  ]
  regions = {
    europe = { host = "127.0.0.1", port = 5400, dbname = "eutweets", user = "postgres", password = "secret", locations = ["europe"], id_start = 1000000000000 }
    usa    = { host = "127.0.0.1", port = 5401, dbname = "ustweets", user = "postgres", password = "secret", locations = ["usa", "canada"], id_start = 2000000000000 }
  }
}

run "parent_and_default_partition" {
  command = plan

  assert {
    condition     = pgshard_partitioned_table.this.name == "tweets" && pgshard_partitioned_table.this.schema == "public"
    error_message = "The partitioned table must be public.tweets."
  }
  assert {
    condition     = pgshard_partitioned_table.this.partition_by.strategy == "list" && jsonencode(pgshard_partitioned_table.this.partition_by.key) == jsonencode(["location"])
    error_message = "The table must be partitioned by LIST on location."
  }
  assert {
    condition     = jsonencode([for c in pgshard_partitioned_table.this.columns : c.name]) == jsonencode(["id", "location", "text", "owner_id", "like_count"])
    error_message = "The table must have the configured columns, in order."
  }
  assert {
    condition     = pgshard_partitioned_table.this.columns[4].default == "0" && pgshard_partitioned_table.this.columns[1].not_null
    error_message = "Column attributes (default, not_null) must reach the table."
  }
  assert {
    condition     = pgshard_partitioned_table.this.force_destroy == false
    error_message = "force_destroy must default to false."
  }
  assert {
    condition     = pgshard_partition.default.is_default && pgshard_partition.default.name == "tweets_default" && pgshard_partition.default.schema == "public"
    error_message = "The DEFAULT partition must be public.tweets_default."
  }
  assert {
    condition     = pgshard_partition.default.force_destroy == false
    error_message = "The DEFAULT partition's force_destroy must default to false."
  }
  assert {
    condition     = length(pgshard_extension.postgres_fdw) == 1 && pgshard_extension.postgres_fdw[0].name == "postgres_fdw"
    error_message = "The postgres_fdw extension must be created by default."
  }
  assert {
    condition     = length(pgshard_extension.dblink) == 1 && pgshard_extension.dblink[0].name == "dblink"
    error_message = "The dblink extension must be created by default."
  }
  assert {
    condition     = output.default_partition == "tweets_default"
    error_message = "Output default_partition must name the DEFAULT partition."
  }
}

run "one_server_mapping_and_partition_per_region" {
  command = plan

  assert {
    condition     = jsonencode(keys(pgshard_foreign_server.region)) == jsonencode(["europe", "usa"])
    error_message = "Each region needs its foreign server."
  }
  assert {
    condition     = jsonencode(keys(pgshard_user_mapping.region)) == jsonencode(["europe", "usa"])
    error_message = "Each region needs its user mapping."
  }
  assert {
    condition     = jsonencode(keys(pgshard_foreign_partition.region)) == jsonencode(["europe", "usa"]) && length(pgshard_foreign_partition.split) == 0
    error_message = "Regions without split_from must be in pgshard_foreign_partition.region."
  }
  assert {
    condition = alltrue([for name, s in pgshard_foreign_server.region : s.name == name && s.host == "127.0.0.1"]) && (
      pgshard_foreign_server.region["europe"].port == 5400 && pgshard_foreign_server.region["europe"].dbname == "eutweets" &&
      pgshard_foreign_server.region["usa"].port == 5401 && pgshard_foreign_server.region["usa"].dbname == "ustweets"
    )
    error_message = "Each foreign server must be named for its region and reach its database."
  }
  assert {
    condition     = alltrue([for s in pgshard_foreign_server.region : s.options == tomap({ async_capable = "true", fetch_size = "10000", fdw_tuple_cost = "1", parallel_commit = "true" })])
    error_message = "Foreign servers must default to the Performance guide's options (async_capable, fetch_size 10000, fdw_tuple_cost 1, parallel_commit)."
  }
  assert {
    condition     = alltrue([for name, m in pgshard_user_mapping.region : m.server == name && m.user == "postgres" && issensitive(m.password)])
    error_message = "Each user mapping must map the region's server to its user, with a sensitive password."
  }
  assert {
    condition     = pgshard_foreign_partition.region["europe"].name == "tweets_europe" && pgshard_foreign_partition.region["usa"].name == "tweets_usa"
    error_message = "A region's partition must default to <name>_<region>."
  }
  assert {
    condition     = alltrue([for name, p in pgshard_foreign_partition.region : p.server == name && p.schema == "public"])
    error_message = "Each partition must use its region's server, in the table's schema."
  }
  assert {
    condition     = jsonencode(pgshard_foreign_partition.region["europe"].values_in) == jsonencode(["europe"]) && jsonencode(pgshard_foreign_partition.region["usa"].values_in) == jsonencode(["usa", "canada"])
    error_message = "Each partition's bound must be its region's locations."
  }
  assert {
    condition = (
      pgshard_foreign_partition.region["europe"].remote_identity.start == 1000000000000 &&
      pgshard_foreign_partition.region["usa"].remote_identity.start == 2000000000000 &&
      alltrue([for p in pgshard_foreign_partition.region : p.remote_identity.column == "id" && p.remote_identity.increment == 1])
    )
    error_message = "Each shard table's identity must start at its region's id_start, on id, step 1."
  }
  assert {
    condition     = alltrue([for p in pgshard_foreign_partition.region : p.create_remote_table && p.move_rows_from_default && p.on_rows_outside_bound == "move_to_default"])
    error_message = "Partitions must create their shard tables and move rows through DEFAULT."
  }
  assert {
    condition     = alltrue([for p in pgshard_foreign_partition.region : jsonencode(p.options) == jsonencode({ batch_size = "500" })])
    error_message = "Partitions must default to batch_size = 500."
  }
  assert {
    condition     = jsonencode(output.servers) == jsonencode({ europe = "europe", usa = "usa" })
    error_message = "Output servers must map each region to its server."
  }
  assert {
    condition = (
      jsonencode(keys(output.partitions)) == jsonencode(["europe", "usa"]) &&
      output.partitions["usa"].name == "tweets_usa" && output.partitions["usa"].server == "usa" &&
      jsonencode(output.partitions["usa"].locations) == jsonencode(["usa", "canada"])
    )
    error_message = "Output partitions must describe each region's partition."
  }
}

run "split_region_applies_after_the_others" {
  command = plan

  variables {
    regions = {
      europe = { host = "127.0.0.1", port = 5400, dbname = "eutweets", user = "postgres", password = "secret", locations = ["europe"], id_start = 1000000000000 }
      usa    = { host = "127.0.0.1", port = 5401, dbname = "ustweets", user = "postgres", password = "secret", locations = ["usa"], id_start = 2000000000000 }
      canada = { host = "127.0.0.1", port = 5402, dbname = "catweets", user = "postgres", password = "secret", locations = ["canada"], id_start = 3000000000000, split_from = "usa" }
    }
  }

  # pgshard_foreign_partition.split depends on every instance of .region: the giver narrows
  # (its canada rows into DEFAULT) before the new region takes them.
  assert {
    condition     = jsonencode(keys(pgshard_foreign_partition.region)) == jsonencode(["europe", "usa"])
    error_message = "Regions without split_from must stay in pgshard_foreign_partition.region."
  }
  assert {
    condition     = jsonencode(keys(pgshard_foreign_partition.split)) == jsonencode(["canada"])
    error_message = "A region with split_from must be in pgshard_foreign_partition.split."
  }
  assert {
    condition = (
      pgshard_foreign_partition.split["canada"].name == "tweets_canada" && pgshard_foreign_partition.split["canada"].server == "canada" &&
      jsonencode(pgshard_foreign_partition.split["canada"].values_in) == jsonencode(["canada"]) &&
      pgshard_foreign_partition.split["canada"].remote_identity.start == 3000000000000
    )
    error_message = "The split region's partition must take its locations, on its server, with its id range."
  }
  assert {
    condition = (
      pgshard_foreign_partition.split["canada"].create_remote_table && pgshard_foreign_partition.split["canada"].move_rows_from_default &&
      pgshard_foreign_partition.split["canada"].on_rows_outside_bound == "move_to_default" &&
      jsonencode(pgshard_foreign_partition.split["canada"].options) == jsonencode({ batch_size = "500" })
    )
    error_message = "The split region's partition must be configured like the others."
  }
  assert {
    condition     = jsonencode(pgshard_foreign_partition.region["usa"].values_in) == jsonencode(["usa"])
    error_message = "The giver's bound must narrow in the same plan."
  }
  assert {
    condition     = length(pgshard_foreign_server.region) == 3 && length(pgshard_user_mapping.region) == 3
    error_message = "The split region needs its server and mapping like any other."
  }
  assert {
    condition     = jsonencode(keys(output.partitions)) == jsonencode(["canada", "europe", "usa"]) && output.partitions["canada"].server == "canada"
    error_message = "Output partitions must include split regions."
  }
}

run "region_options_and_defaults" {
  command = plan

  variables {
    regions = {
      europe = {
        host              = "eu-db"
        dbname            = "eutweets"
        user              = "eu_app"
        password          = "secret"
        locations         = ["europe"]
        table             = "europe_tweets"
        server_options    = { fetch_size = "5000" }
        partition_options = {}
      }
    }
  }

  assert {
    condition     = pgshard_foreign_server.region["europe"].port == 5432 && pgshard_foreign_server.region["europe"].host == "eu-db"
    error_message = "port must default to 5432."
  }
  assert {
    condition     = jsonencode(pgshard_foreign_server.region["europe"].options) == jsonencode({ fetch_size = "5000" })
    error_message = "server_options must replace the default server options."
  }
  assert {
    condition     = length(pgshard_foreign_partition.region["europe"].options) == 0
    error_message = "partition_options must replace the default foreign table options."
  }
  assert {
    condition     = pgshard_foreign_partition.region["europe"].name == "europe_tweets" && output.partitions["europe"].name == "europe_tweets"
    error_message = "table must name the partition."
  }
  assert {
    condition     = pgshard_foreign_partition.region["europe"].remote_identity == null
    error_message = "A region without id_start must get no remote_identity."
  }
  assert {
    condition     = pgshard_user_mapping.region["europe"].user == "eu_app"
    error_message = "The user mapping must use the region's user."
  }
}

run "moves_disabled" {
  command = plan

  variables {
    moves_enabled = false
    regions = {
      usa    = { host = "127.0.0.1", dbname = "ustweets", user = "postgres", password = "secret", locations = ["usa"] }
      canada = { host = "127.0.0.1", dbname = "catweets", user = "postgres", password = "secret", locations = ["canada"], split_from = "usa" }
    }
  }

  assert {
    condition     = pgshard_foreign_partition.region["usa"].on_rows_outside_bound == "fail" && pgshard_foreign_partition.split["canada"].on_rows_outside_bound == "fail"
    error_message = "With moves_enabled = false, a narrowed bound must fail instead of moving rows."
  }
  assert {
    condition     = pgshard_foreign_partition.region["usa"].move_rows_from_default && pgshard_foreign_partition.split["canada"].move_rows_from_default
    error_message = "Partitions still take DEFAULT's rows with moves disabled, as in the example."
  }
}

run "existing_extensions" {
  command = plan

  variables {
    create_extensions = false
  }

  assert {
    condition     = length(pgshard_extension.postgres_fdw) == 0 && length(pgshard_extension.dblink) == 0
    error_message = "create_extensions = false must create no extension."
  }
  assert {
    condition     = length(pgshard_foreign_server.region) == 2 && length(pgshard_foreign_partition.region) == 2
    error_message = "The regions must be planned without the extensions."
  }
}

run "names_schema_identity_and_force_destroy" {
  command = plan

  variables {
    name                   = "posts"
    schema                 = "app"
    partition_key          = "country"
    default_partition_name = "posts_elsewhere"
    id_column              = "post_id"
    id_increment           = 10
    force_destroy          = true
    columns = [
      { name = "post_id", type = "bigint", not_null = true },
      { name = "country", type = "text", not_null = true },
      { name = "body", type = "text", renamed_from = "text" },
    ]
    regions = {
      france = { host = "127.0.0.1", dbname = "fr", user = "app", password = "secret", locations = ["fr"], id_start = 1 }
    }
  }

  assert {
    condition     = pgshard_partitioned_table.this.schema == "app" && pgshard_partition.default.schema == "app" && pgshard_foreign_partition.region["france"].schema == "app"
    error_message = "schema must hold the table and all its partitions."
  }
  assert {
    condition     = jsonencode(pgshard_partitioned_table.this.partition_by.key) == jsonencode(["country"])
    error_message = "partition_key must be the LIST key."
  }
  assert {
    condition     = pgshard_partitioned_table.this.columns[2].renamed_from == "text"
    error_message = "renamed_from must reach the table."
  }
  assert {
    condition     = pgshard_partition.default.name == "posts_elsewhere" && output.default_partition == "posts_elsewhere"
    error_message = "default_partition_name must name the DEFAULT partition."
  }
  assert {
    condition     = pgshard_foreign_partition.region["france"].name == "posts_france"
    error_message = "A region's partition must default to <name>_<region>."
  }
  assert {
    condition = (
      pgshard_foreign_partition.region["france"].remote_identity.column == "post_id" &&
      pgshard_foreign_partition.region["france"].remote_identity.increment == 10 &&
      pgshard_foreign_partition.region["france"].remote_identity.start == 1
    )
    error_message = "id_column and id_increment must reach remote_identity (id_start = 1 is fine without a serial id)."
  }
  assert {
    condition     = pgshard_partitioned_table.this.force_destroy && pgshard_partition.default.force_destroy
    error_message = "force_destroy must reach the table and the DEFAULT partition."
  }
}

run "no_settings_by_default" {
  command = plan

  assert {
    condition     = length(pgshard_settings.queries) == 0
    error_message = "Without database_settings the module must leave the database's settings alone."
  }
}

run "partitionwise_settings" {
  command = plan

  variables {
    database_settings = { database = "tweets" }
  }

  assert {
    condition     = length(pgshard_settings.queries) == 1 && pgshard_settings.queries[0].database == "tweets" && pgshard_settings.queries[0].role == null
    error_message = "database_settings must manage the settings of the database it names, for every role."
  }
  assert {
    condition     = pgshard_settings.queries[0].settings == tomap({ enable_partitionwise_aggregate = "on", enable_partitionwise_join = "on" })
    error_message = "database_settings must default to the partitionwise planner settings."
  }
}

run "role_settings" {
  command = plan

  variables {
    database_settings = { database = "tweets", role = "tweets_api", settings = { enable_partitionwise_aggregate = "on" } }
  }

  assert {
    condition     = pgshard_settings.queries[0].role == "tweets_api" && pgshard_settings.queries[0].settings == tomap({ enable_partitionwise_aggregate = "on" })
    error_message = "database_settings must pass its role and settings through."
  }
}
