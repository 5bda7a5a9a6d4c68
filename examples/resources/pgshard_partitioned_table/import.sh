# A partitioned table is imported as schema.name (either part may be double-quoted).
terraform import pgshard_partitioned_table.tweets public.tweets
