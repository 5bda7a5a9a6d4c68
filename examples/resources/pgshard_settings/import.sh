# Settings are imported by `database/role`, either part empty: a database's own settings,
# a role's in one database, a role's in every database.
terraform import pgshard_settings.tweets tweets/
terraform import pgshard_settings.api tweets/tweets_api
terraform import pgshard_settings.reporting /reporting
