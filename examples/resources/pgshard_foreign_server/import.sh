# A foreign server is imported by its name.
terraform import pgshard_foreign_server.europe europe
