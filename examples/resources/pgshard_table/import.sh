# A table is imported as schema.name (either part may be double-quoted).
terraform import pgshard_table.europe_tweets public.europe_tweets
