variable "name" {
  description = "The region's name, such as \"europe\". It names the region's Docker network, volume and containers (after name_prefix)."
  type        = string
  nullable    = false
}

variable "name_prefix" {
  description = "Prefix of every Docker network, volume and container name, so that several stacks can run side by side."
  type        = string
  default     = ""
  nullable    = false
}

variable "image" {
  description = "The PostgreSQL image, by ID or name, such as docker_image.postgres.image_id. The module pulls nothing itself."
  type        = string
  nullable    = false
}

variable "db_port" {
  description = "Port on 127.0.0.1 where the region's database is published."
  type        = number
  nullable    = false

  validation {
    condition     = floor(var.db_port) == var.db_port && var.db_port >= 1 && var.db_port <= 65535
    error_message = "db_port must be a TCP port, a whole number from 1 to 65535; got ${var.db_port}."
  }
}

variable "dbname" {
  description = "Name of the database the PostgreSQL container creates (POSTGRES_DB), which holds the region's shard table."
  type        = string
  nullable    = false
}

variable "user" {
  description = "The PostgreSQL superuser the container creates (POSTGRES_USER); the API connects as this user too."
  type        = string
  default     = "postgres"
  nullable    = false
}

variable "password" {
  description = "Password of user (POSTGRES_PASSWORD)."
  type        = string
  sensitive   = true
  nullable    = false
}

variable "api_enabled" {
  description = "Run the tweets API container beside the database, on the region's network. It needs api_image, api_port and api_table."
  type        = bool
  default     = true
  nullable    = false
}

variable "api_image" {
  description = "Image of the tweets API, by ID or name (examples/sharded-tweets/tweets-api; make demo builds it). Needed when api_enabled."
  type        = string
  default     = null
}

variable "api_port" {
  description = "Port on 127.0.0.1 where the tweets API is published. Needed when api_enabled."
  type        = number
  default     = null

  validation {
    condition     = var.api_port == null ? true : floor(var.api_port) == var.api_port && var.api_port >= 1 && var.api_port <= 65535
    error_message = "api_port must be a TCP port, a whole number from 1 to 65535."
  }
}

variable "api_table" {
  description = <<-EOT
    The shard table the API reads and writes (TWEETS_TABLE). Needed when api_enabled. Pass it
    from the sharded-table module's output (module.<table>.partitions[<region>].remote_table):
    the reference makes the API container wait until the shard table exists.
  EOT
  type        = string
  default     = null
}
