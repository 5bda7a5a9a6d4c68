variable "base" {
  description = "The base database, which holds the partitioned tweets table."
  type = object({
    host     = optional(string, "127.0.0.1")
    port     = optional(number, 5432)
    database = string
    username = optional(string, "postgres")
    password = string
    sslmode  = optional(string, "prefer")
  })
  sensitive = true
}

variable "regions" {
  description = <<-EOT
    One entry per shard, keyed by region name (also the foreign server's name). Adding a
    region is one more entry. host/port are as the base database's server reaches the
    shard. id_start gives the shard's own writes an id range of their own (the base's
    sequence counts from 1), such as 1e12 for the first region and 2e12 for the second.
  EOT
  type = map(object({
    host      = string
    port      = optional(number, 5432)
    dbname    = string
    username  = string
    table     = string
    locations = list(string)
    id_start  = number
  }))
}

variable "shard_passwords" {
  description = "Password of each region's username on its shard, keyed like regions."
  type        = map(string)
  sensitive   = true
}

variable "force_destroy" {
  description = "Let destroy drop the parent and DEFAULT partition even while DEFAULT holds rows. Shard rows are never dropped."
  type        = bool
  default     = false
}

variable "extra_columns" {
  description = <<-EOT
    Columns added to the tweets table after the first five, such as
    [{ name = "lang", type = "text", default = "'en'" }]. Each change reaches every region's
    shard table in one apply (renames with renamed_from; a drop of a column holding values
    needs force_destroy).
  EOT
  type = list(object({
    name         = string
    type         = string
    not_null     = optional(bool)
    default      = optional(string)
    renamed_from = optional(string)
  }))
  default  = []
  nullable = false
}
