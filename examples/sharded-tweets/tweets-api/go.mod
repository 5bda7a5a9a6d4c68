module github.com/pgshard/terraform-provider-pgshard/examples/sharded-tweets/tweets-api

go 1.22

require github.com/lib/pq v1.12.3
