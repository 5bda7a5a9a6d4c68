# With Terraform 1.12 or later, an import block may give the identity, {id}, the same
# string as the import ID.
import {
  to       = pgshard_foreign_schema_import.europe_reporting
  identity = { id = "europe_reporting/europe/reporting" }
}
