variable "name_prefix" {
  description = "Prefix of every Docker network, volume and container name, so that several stacks can run side by side."
  type        = string
  default     = ""
}

variable "regions" {
  description = <<-EOT
    One entry per region: its shard database, its API and the locations it holds. Adding a
    region is one more entry. id_start gives the rows the region's API writes an id range of
    their own (the base table's sequence counts from 1).

    split_from names the region a new region takes locations from (a split): take the
    locations out of that region's list and give them to the new one, in one apply. The giver's
    rows of those locations pass through the DEFAULT partition into the new region's shard,
    verified by count, with the table online. Keep split_from afterwards: it decides the order in which
    Terraform applies the two regions. Removing the region again (and giving its locations back
    to the region it names) is a merge, also one apply.
  EOT
  type = map(object({
    db_port    = number
    api_port   = number
    dbname     = string
    table      = string
    locations  = list(string)
    id_start   = number
    split_from = optional(string)
  }))
  default = {
    europe = { db_port = 5400, api_port = 8000, dbname = "eutweets", table = "europe_tweets", locations = ["europe"], id_start = 1000000000000 }
    usa    = { db_port = 5401, api_port = 8001, dbname = "ustweets", table = "us_tweets", locations = ["usa", "canada"], id_start = 2000000000000 }
  }
  validation {
    condition     = alltrue([for name, r in var.regions : r.split_from == null || contains(keys(var.regions), coalesce(r.split_from, "-")) && r.split_from != name])
    error_message = "Each split_from must name another region of var.regions."
  }
}

variable "moves_enabled" {
  description = <<-EOT
    Let a region that gives locations away, or is removed, move their rows into the DEFAULT
    partition first (on_rows_outside_bound = "move_to_default"), from where the region that
    takes the locations gets them: a split, a merge, or rows kept in DEFAULT when a region and
    its database go. pgshard refuses a whole-stack destroy that would pull every shard's rows
    into the base only to drop them with it; make demo-destroy then turns this off and destroys.
  EOT
  type        = bool
  default     = true
}

variable "base_port" {
  description = "Port on 127.0.0.1 where the base database container is published."
  type        = number
  default     = 5433
}

variable "existing_base" {
  description = <<-EOT
    Use an existing PostgreSQL (such as the one on your machine) as the base database instead of
    a container. It reaches the shards on their published 127.0.0.1 ports, and needs the
    postgres_fdw and dblink extensions available.
  EOT
  type = object({
    host     = optional(string, "127.0.0.1")
    port     = optional(number, 5432)
    database = string
    username = optional(string, "postgres")
    password = string
  })
  default   = null
  sensitive = true
}

variable "postgres_password" {
  description = "Password of the postgres user in every database container."
  type        = string
  default     = "pgshard-demo"
  sensitive   = true
}

variable "postgres_image" {
  description = "PostgreSQL image for the databases. make demo uses a local build from Debian packages when this one cannot be pulled."
  type        = string
  default     = "postgres:17"
}

variable "api_image" {
  description = "Image of the tweets API (examples/sharded-tweets/tweets-api; make demo builds it)."
  type        = string
  default     = "pgshard/tweets-api:local"
}

variable "force_destroy" {
  description = "Let destroy drop the base tables while the DEFAULT partition holds rows. The demo's containers and volumes go with destroy anyway."
  type        = bool
  default     = true
}

variable "extra_columns" {
  description = <<-EOT
    Columns added to the tweets table after the first five, such as
    [{ name = "lang", type = "text", default = "'en'" }]. Each change reaches every region's
    shard table in one apply (renames with renamed_from).
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

variable "time_partitions" {
  description = <<-EOT
    Partition each region by month of created_at (a column added for it): the recent months on
    the region's shard, where its API keeps writing to one table, and months that ended
    archive_after before as_of on an archive PostgreSQL container. start is the first month
    (default: the month holding as_of), premake the months made ahead, as_of the instant the
    months roll by (default: the base database's clock; set it to roll forward by hand). Choose
    it when the stack is created: turning it on or off later replaces the regions' partitions.
    Regions cannot be split (split_from) while it is set.
  EOT
  type = object({
    start         = optional(string)
    premake       = optional(number, 2)
    as_of         = optional(string)
    archive_after = optional(string, "3 months")
  })
  default = null
}

variable "archive_port" {
  description = "Port on 127.0.0.1 where the archive database container is published (with time_partitions)."
  type        = number
  default     = 5409
}
