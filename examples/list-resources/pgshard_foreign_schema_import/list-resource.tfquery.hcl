# The schemas imported from server europe (IMPORT FOREIGN SCHEMA), by local schema, server
# and remote schema.
list "pgshard_foreign_schema_import" "europe" {
  provider = pgshard

  config {
    server = "europe"
  }
}
