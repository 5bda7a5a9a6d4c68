# A grant of USAGE on a foreign server is imported as server/role; role PUBLIC is the grant
# to every role. Double-quote a part that contains "/" (with "" for a quote inside it).
terraform import pgshard_foreign_server_usage.reporting europe/reporting
terraform import pgshard_foreign_server_usage.europe_public europe/PUBLIC
