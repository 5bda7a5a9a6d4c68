# With Terraform 1.12 or later, an import block may give the identity, {id}, the same
# string as the import ID.
import {
  to       = pgshard_settings.tweets
  identity = { id = "tweets/" }
}
