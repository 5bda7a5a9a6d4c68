# Every check on the inputs, at plan, offline. Each failing run breaks exactly one rule, so
# that the failure it expects is that rule's; the passing runs are the edges each rule allows.
# A location listed twice by one region is the provider's to refuse (values_in), not a claim
# by two regions.

mock_provider "pgshard" {}

variables {
  name          = "tweets"
  partition_key = "location"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
  ]
  regions = {
    europe = { host = "127.0.0.1", dbname = "eutweets", user = "postgres", password = "secret", locations = ["europe"], id_start = 1000000000000 }
    usa    = { host = "127.0.0.1", dbname = "ustweets", user = "postgres", password = "secret", locations = ["usa"], id_start = 2000000000000 }
  }
}

run "region_name_with_upper_case" {
  command = plan
  variables {
    regions = {
      Europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
    }
  }
  expect_failures = [var.regions]
}

run "region_name_with_hyphen" {
  command = plan
  variables {
    regions = {
      eu-west = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
    }
  }
  expect_failures = [var.regions]
}

run "region_name_starting_with_digit" {
  command = plan
  variables {
    regions = {
      "1europe" = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
    }
  }
  expect_failures = [var.regions]
}

run "region_name_longer_than_63" {
  command = plan
  variables {
    regions = {
      (join("", [for i in range(64) : "a"])) = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
    }
  }
  expect_failures = [var.regions]
}

run "region_name_of_63_with_underscores" {
  command = plan
  variables {
    regions = {
      (join("", concat(["_eu_west_1"], [for i in range(53) : "x"]))) = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], table = "eu" }
    }
  }
}

run "region_without_locations" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = [] }
    }
  }
  expect_failures = [var.regions]
}

run "location_claimed_by_two_regions" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe", "uk"] }
      uk     = { host = "h", dbname = "d", user = "u", password = "p", locations = ["uk"] }
    }
  }
  expect_failures = [var.regions]
}

run "same_id_start_in_two_regions" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], id_start = 1000000000000 }
      usa    = { host = "h", dbname = "d", user = "u", password = "p", locations = ["usa"], id_start = 1000000000000 }
    }
  }
  expect_failures = [var.regions]
}

run "adjacent_id_starts_and_regions_without_one" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], id_start = 1000000000000 }
      usa    = { host = "h", dbname = "d", user = "u", password = "p", locations = ["usa"], id_start = 1000000000001 }
      asia   = { host = "h", dbname = "d", user = "u", password = "p", locations = ["asia"] }
      africa = { host = "h", dbname = "d", user = "u", password = "p", locations = ["africa"] }
    }
  }
  assert {
    condition     = pgshard_foreign_partition.region["asia"].remote_identity == null && pgshard_foreign_partition.region["usa"].remote_identity.start == 1000000000001
    error_message = "Distinct id_starts and regions without one must plan."
  }
}

run "fractional_id_start" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], id_start = 1.5 }
    }
  }
  expect_failures = [var.regions]
}

run "id_start_below_one" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], id_start = 0 }
    }
  }
  expect_failures = [var.regions]
}

run "split_from_names_no_region" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
      uk     = { host = "h", dbname = "d", user = "u", password = "p", locations = ["uk"], split_from = "eu" }
    }
  }
  expect_failures = [var.regions]
}

run "split_from_names_itself" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
      uk     = { host = "h", dbname = "d", user = "u", password = "p", locations = ["uk"], split_from = "uk" }
    }
  }
  expect_failures = [var.regions]
}

run "id_increment_zero" {
  command = plan
  variables {
    id_increment = 0
  }
  expect_failures = [var.id_increment]
}

run "partition_key_not_a_column" {
  command = plan
  variables {
    partition_key = "country"
  }
  expect_failures = [pgshard_partitioned_table.this]
}

run "id_column_not_a_column" {
  command = plan
  variables {
    id_column = "tweet_id"
  }
  expect_failures = [pgshard_foreign_partition.region]
}

run "id_column_not_a_column_without_id_start" {
  command = plan
  variables {
    id_column = "tweet_id"
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"] }
    }
  }
}

run "id_start_one_beside_the_base_sequence" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], id_start = 1 }
    }
  }
  expect_failures = [pgshard_foreign_partition.region]
}

run "split_id_start_one_beside_the_base_sequence" {
  command = plan
  variables {
    regions = {
      europe = { host = "h", dbname = "d", user = "u", password = "p", locations = ["europe"], id_start = 1000000000000 }
      uk     = { host = "h", dbname = "d", user = "u", password = "p", locations = ["uk"], id_start = 1, split_from = "europe" }
    }
  }
  expect_failures = [pgshard_foreign_partition.split]
}
