terraform {
  required_version = ">= 1.5"
  required_providers {
    pgshard = {
      source = "pgshard/pgshard"
    }
  }
}
