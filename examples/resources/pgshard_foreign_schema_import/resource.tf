# Foreign tables in the local schema "europe_ref" for two reference tables of the
# Europe shard's "public" schema. The local schema must already exist.
resource "pgshard_foreign_schema_import" "europe_ref" {
  server        = pgshard_foreign_server.europe.name
  remote_schema = "public"
  local_schema  = "europe_ref"
  limit_to      = ["countries", "currencies"] # each must exist on the shard

  options = {
    import_default  = "true" # copy column defaults
    import_not_null = "true"
  }

  # dblink lists the remote schema through the same server and user mapping.
  depends_on = [pgshard_user_mapping.europe, pgshard_extension.dblink]
}

# Everything in the shard's "reporting" schema but its staging table, including tables
# created there later (the next plan shows them in remote_drift; the apply imports them).
resource "pgshard_foreign_schema_import" "europe_reporting" {
  server        = pgshard_foreign_server.europe.name
  remote_schema = "reporting"
  local_schema  = "europe_reporting"
  except        = ["staging"]

  depends_on = [pgshard_user_mapping.europe, pgshard_extension.dblink]
}

output "europe_reference_tables" {
  value = pgshard_foreign_schema_import.europe_ref.tables # ["countries", "currencies"]
}
