# A foreign partition is imported as schema.name (either part may be double-quoted).
terraform import pgshard_foreign_partition.europe public.europe_tweets
