# A foreign schema import is imported as local_schema/server/remote_schema; double-quote
# a part that contains "/" (with "" for a quote inside it). Its foreign tables are found
# in the catalog. limit_to, except and options are not kept by PostgreSQL and read back
# as null, so the configuration to import into sets none of them:
#
#   resource "pgshard_foreign_schema_import" "europe_reporting" {
#     server        = "europe"
#     remote_schema = "reporting"
#     local_schema  = "europe_reporting"
#   }
#
# The plan is then empty when the import holds every table of the remote schema.
terraform import pgshard_foreign_schema_import.europe_reporting europe_reporting/europe/reporting
