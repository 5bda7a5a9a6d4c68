# Warn on every plan and apply when a row of tweets is not where its location says it
# belongs: on a shard outside its partition's bound, or in DEFAULT while another partition's
# bound admits it. A failed check is a warning; it does not stop the run.
check "residency" {
  data "pgshard_shard_check" "tweets" {
    parent = "public.tweets"
  }

  assert {
    condition = data.pgshard_shard_check.tweets.ok
    error_message = format(
      "Rows of public.tweets are outside their partition's bound: %s; rows in DEFAULT that another partition's bound admits: %d.",
      jsonencode({ for p in data.pgshard_shard_check.tweets.partitions : p.name => p.rows_outside_bound if p.rows_outside_bound > 0 }),
      data.pgshard_shard_check.tweets.default_rows_claimed,
    )
  }
}
