variable "name" {
  description = "Name of the partitioned table in the base database, such as \"tweets\"."
  type        = string
  nullable    = false
}

variable "schema" {
  description = "Schema of the partitioned table and of its partitions in the base database."
  type        = string
  default     = "public"
  nullable    = false
}

variable "columns" {
  description = <<-EOT
    Columns of the table, in order, as pgshard_partitioned_table takes them: name and type, and
    optionally not_null, default, generated and renamed_from (to rename a column and keep its
    values). Each change reaches every region's shard table in the same apply.
  EOT
  type = list(object({
    name         = string
    type         = string
    not_null     = optional(bool)
    default      = optional(string)
    generated    = optional(string)
    renamed_from = optional(string)
  }))
  nullable = false
}

variable "partition_key" {
  description = "The column whose value decides a row's region (PARTITION BY LIST): each region lists the values it holds in locations."
  type        = string
  nullable    = false
}

variable "regions" {
  description = <<-EOT
    One entry per region, keyed by its name (a lower-case SQL identifier; it names the foreign
    server): how the base database reaches the region's database (host, port, dbname, and the
    user and password of the user mapping), the partition key values it holds (locations) and
    the first id of the rows written on the shard itself (id_start; without it the shard table
    gets no identity). table names the partition and the shard table (default
    "<name>_<region>"). server_options and partition_options replace the default options of the
    foreign server and of the foreign table. The server's defaults are those the Performance
    guide measured to pay with 20 ms to each shard: shards scanned in parallel (async_capable),
    10,000 rows per round trip (fetch_size), a round trip costed like one (fdw_tuple_cost = 1,
    so that the planner sends a partitionwise join to the shard) and commits on every shard at
    once (parallel_commit, PostgreSQL 15 and later: drop it for 14).

    split_from names the region a new region takes locations from (a split): take the
    locations out of that region's list and give them to the new one, in one apply. Regions
    with split_from are applied after the others, so the giver's rows of those locations pass
    through the DEFAULT partition into the new region's shard. Keep split_from afterwards: it
    also orders the merge that removes the region again.

    password is marked sensitive where the module uses it (and the provider marks it too);
    pass it from a sensitive variable so that it stays so in the caller as well.
  EOT
  type = map(object({
    host              = string
    port              = optional(number, 5432)
    dbname            = string
    user              = string
    password          = string
    locations         = list(string)
    id_start          = optional(number)
    split_from        = optional(string)
    table             = optional(string)
    server_options    = optional(map(string), { async_capable = "true", fetch_size = "10000", fdw_tuple_cost = "1", parallel_commit = "true" })
    partition_options = optional(map(string), { batch_size = "500" })
  }))
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.regions) : can(regex("^[a-z_][a-z0-9_]*$", name)) && length(name) <= 63])
    error_message = "A region's name names its foreign server and, by default, its shard table, so it must be a lower-case SQL identifier of at most 63 characters (^[a-z_][a-z0-9_]*$). Rename ${join(", ", [for name in keys(var.regions) : format("%q (to %q, say)", name, substr(replace(replace(lower(name), "/[^a-z0-9_]/", "_"), "/^([0-9])/", "_$1"), 0, 63)) if !(can(regex("^[a-z_][a-z0-9_]*$", name)) && length(name) <= 63)])}."
  }

  validation {
    condition     = alltrue([for r in var.regions : length(r.locations == null ? [] : r.locations) > 0])
    error_message = "Every region needs at least one location (a LIST partition holds at least one value): ${join(", ", [for name, r in var.regions : format("%q", name) if length(r.locations == null ? [] : r.locations) == 0])} lists none. Give it the partition key values it holds, or remove the region."
  }

  validation {
    condition = alltrue([
      for location, owners in {
        for claim in flatten([for name, r in var.regions : [for location in distinct(r.locations == null ? [] : r.locations) : { location = location, region = name }]]) :
        claim.location => claim.region...
      } : length(owners) == 1
    ])
    error_message = "Each location belongs to one region, but ${join("; ", [
      for location, owners in {
        for claim in flatten([for name, r in var.regions : [for location in distinct(r.locations == null ? [] : r.locations) : { location = location, region = name }]]) :
        claim.location => claim.region...
      } : format("location %q is claimed by regions %s", location, join(" and ", formatlist("%q", owners))) if length(owners) > 1
    ])}. Keep each location in one region's locations: to move one, remove it from the region that gives it away in the same apply (see split_from)."
  }

  validation {
    condition     = alltrue([for r in var.regions : r.id_start == null ? true : floor(r.id_start) == r.id_start && r.id_start >= 1])
    error_message = "id_start is the first id of a region's shard table, a whole number of at least 1: fix it for ${join(", ", [for name, r in var.regions : format("%q", name) if(r.id_start == null ? false : !(floor(r.id_start) == r.id_start && r.id_start >= 1))])}."
  }

  validation {
    condition     = alltrue([for name, r in var.regions : r.id_start == null ? true : length([for other in values(var.regions) : other if other.id_start == r.id_start]) == 1])
    error_message = "Each region's id range runs from its id_start up to the next higher id_start of any region, so two regions with the same id_start hand out the same ids: ${join("; ", [for start, names in { for name, r in var.regions : tostring(r.id_start) => name... if r.id_start != null } : format("regions %s share id_start = %s", join(" and ", formatlist("%q", names)), start) if length(names) > 1])}. Give each region an id_start of its own, such as 1000000000000 * n for the n-th region."
  }

  validation {
    condition     = alltrue([for name, r in var.regions : r.split_from == null ? true : r.split_from != name && contains(keys(var.regions), r.split_from)])
    error_message = "split_from names the region a new region takes its locations from, which must be another region of regions: ${join("; ", [for name, r in var.regions : (r.split_from == name ? format("region %q names itself", name) : format("region %q names %q, which is not a region", name, r.split_from)) if(r.split_from == null ? false : r.split_from == name || !contains(keys(var.regions), r.split_from))])}. Set it to the region that gives the locations away (one of ${join(", ", formatlist("%q", keys(var.regions)))}), or remove it."
  }
}

variable "id_column" {
  description = "The column of each shard table that becomes GENERATED BY DEFAULT AS IDENTITY from the region's id_start (remote_identity), for rows written on the shard directly."
  type        = string
  default     = "id"
  nullable    = false
}

variable "id_increment" {
  description = "Step between the ids of a shard table's identity (remote_identity increment)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = floor(var.id_increment) == var.id_increment && var.id_increment >= 1
    error_message = "id_increment must be a whole number of at least 1 (ids count up from each region's id_start); got ${var.id_increment}."
  }
}

variable "create_extensions" {
  description = "Create the postgres_fdw and dblink extensions in the base database (pgshard_extension). Set it to false when they exist already, or are managed elsewhere."
  type        = bool
  default     = true
  nullable    = false
}

variable "default_partition_name" {
  description = "Name of the DEFAULT partition, which holds the rows of locations no region lists. Default \"<name>_default\"."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let destroy drop the partitioned table and the DEFAULT partition while the DEFAULT partition holds rows (they are lost). Shard tables and their rows are never dropped."
  type        = bool
  default     = false
  nullable    = false
}

variable "moves_enabled" {
  description = <<-EOT
    Let a region that gives locations away, or is removed, move their rows into the DEFAULT
    partition first (on_rows_outside_bound = "move_to_default"), from where the region that
    takes the locations gets them. When false, such a change fails instead
    (on_rows_outside_bound = "fail"); turn it off before destroying the whole stack, which
    pgshard refuses to do while it would pull every shard's rows into the base.
  EOT
  type        = bool
  default     = true
  nullable    = false
}

variable "time_partitions" {
  description = <<-EOT
    Partition every region again by time: each region becomes a partition of the table that is
    itself partitioned by RANGE on column (a date, timestamp or timestamptz column), whose
    periods of interval are foreign partitions on the region's shard (pgshard_time_partitions).
    On the shard the periods' tables are partitions of one table named like the region's table,
    the one table its service writes to (with the region's id range as identity). start is the
    first period's lower bound (default: the period holding as_of), premake the periods kept
    ahead, as_of the instant the periods roll by (default: the base database's clock). A period
    whose end is a tier's after or more before as_of moves, whole and verified, to the tier's
    server (a key of tier_servers); retention detaches or drops the oldest. Regions cannot take
    split_from then. Set it when the table is created: turning it on or off replaces the
    regions' partitions.
  EOT
  type = object({
    column   = string
    interval = optional(string, "1 month")
    start    = optional(string)
    premake  = optional(number, 3)
    as_of    = optional(string)
    tiers = optional(list(object({
      after  = string
      server = string
    })), [])
    retention = optional(object({
      after  = string
      action = string
    }))
  })
  default = null
}

variable "tier_servers" {
  description = <<-EOT
    The servers time_partitions.tiers moves periods to, keyed by the name of their foreign
    server: how the base database reaches each (host, port, dbname, the user and password of
    the user mapping) and its server options.
  EOT
  type = map(object({
    host           = string
    port           = optional(number, 5432)
    dbname         = string
    user           = string
    password       = string
    server_options = optional(map(string), { async_capable = "true", fetch_size = "10000", fdw_tuple_cost = "1", parallel_commit = "true" })
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.tier_servers) : can(regex("^[a-z_][a-z0-9_]*$", name)) && length(name) <= 63])
    error_message = "A tier server's key names its foreign server, so it must be a lower-case SQL identifier of at most 63 characters (^[a-z_][a-z0-9_]*$): rename ${join(", ", [for name in keys(var.tier_servers) : format("%q", name) if !(can(regex("^[a-z_][a-z0-9_]*$", name)) && length(name) <= 63)])}."
  }
}

variable "database_settings" {
  description = <<-EOT
    The login settings (pgshard_settings) of the database, or of a role in it, that queries the
    table. settings defaults to the planner settings the Performance guide measured to pay:
    enable_partitionwise_join (with the servers' fdw_tuple_cost, a join on the partition key
    runs on each shard) and enable_partitionwise_aggregate (a GROUP BY of the partition key
    gets each shard's counts, not its rows). With time_partitions the aggregate setting is left
    out: it turns off the run-time pruning of periods, so that a "last 7 days" written with
    now() reads every period. database is the base database (the provider's); role, when set,
    limits the settings to that role's sessions. The module then owns that database and role
    pair's settings: give it once per pair, not in two modules. null leaves them alone.
  EOT
  type = object({
    database = string
    role     = optional(string)
    settings = optional(map(string))
  })
  default = null
}
