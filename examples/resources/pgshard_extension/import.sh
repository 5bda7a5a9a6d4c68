# An extension is imported by its name.
terraform import pgshard_extension.postgres_fdw postgres_fdw
