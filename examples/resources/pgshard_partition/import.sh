# A partition is imported as schema.name (either part may be double-quoted).
terraform import pgshard_partition.default public.tweets_default
