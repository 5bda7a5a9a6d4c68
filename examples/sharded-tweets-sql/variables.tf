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
    One entry per shard, keyed by region name (a lower-case SQL identifier; also the foreign
    server's name). Adding a region is one more entry. host/port are as the base database's
    server reaches the shard. table names the foreign partition and the shard table.
    id_start gives the shard's own writes an id range of their own (the base's sequence
    counts from 1), such as 1e12 for the first region and 2e12 for the second.

    split_from names the region a new region takes locations from: take them out of that
    region's locations, give them to the new one with split_from set, and apply once; the
    rows move through the DEFAULT partition (moves_enabled). Set it only on a region you add,
    and keep it afterwards.
  EOT
  type = map(object({
    host       = string
    port       = optional(number, 5432)
    dbname     = string
    username   = string
    table      = string
    locations  = list(string)
    id_start   = number
    split_from = optional(string)
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

variable "moves_enabled" {
  description = <<-EOT
    Let a region that gives locations away (a split), or is removed, move their rows into the
    DEFAULT partition, from where the region that takes them gets them. When false, such a
    change fails instead. Set it to false (and apply) before destroying the whole stack:
    pgshard refuses a destroy that would pull every shard's rows into the base.
  EOT
  type        = bool
  default     = true
  nullable    = false
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
