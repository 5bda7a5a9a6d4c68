variable "base" {
  description = "The base database, which holds the partitioned table: where the pgshard provider connects."
  type = object({
    host     = string
    port     = number
    database = string
    username = string
    password = string
  })
  sensitive = true
}

variable "regions" {
  description = "The module's regions, without their passwords (see passwords)."
  type = map(object({
    host       = string
    port       = number
    dbname     = string
    user       = string
    locations  = list(string)
    id_start   = optional(number)
    split_from = optional(string)
    table      = optional(string)
  }))
}

variable "passwords" {
  description = "Each region's user mapping password, keyed like regions."
  type        = map(string)
  sensitive   = true
}
