# Time partitions are imported by their parent's schema.name: its periods are the
# partitions named <parent>_pYYYYMMDD with midnight bounds.
terraform import pgshard_time_partitions.europe public.tweets_europe
