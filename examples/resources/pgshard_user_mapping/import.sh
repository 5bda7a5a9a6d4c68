# A user mapping is imported as server/role; role PUBLIC is the public mapping.
# Double-quote a part that contains "/" (with "" for a quote inside it).
terraform import pgshard_user_mapping.europe europe/postgres
terraform import pgshard_user_mapping.europe_public europe/PUBLIC
