variable "name" {
  description = "The region's name, such as \"europe\". The container is named \"<name_prefix><name>-api\"."
  type        = string
  nullable    = false
}

variable "name_prefix" {
  description = "Prefix of the container's name, so that several stacks can run side by side."
  type        = string
  default     = ""
  nullable    = false
}

variable "image" {
  description = "Image of the tweets API, by ID or name (examples/sharded-tweets/tweets-api; make demo builds it)."
  type        = string
}

variable "port" {
  description = "Port on 127.0.0.1 where the API is published."
  type        = number

  validation {
    condition     = var.port == null ? true : floor(var.port) == var.port && var.port >= 1 && var.port <= 65535
    error_message = "port must be a TCP port, a whole number from 1 to 65535."
  }
}

variable "network" {
  description = "The region's Docker network (docker-region's network output), where the API reaches the database."
  type        = string
  nullable    = false
}

variable "db_container" {
  description = "Name of the region's database container (docker-region's container output): the API connects to it on port 5432 of the network."
  type        = string
  nullable    = false
}

variable "dbname" {
  description = "Name of the region's database."
  type        = string
  nullable    = false
}

variable "user" {
  description = "The PostgreSQL user the API connects as."
  type        = string
  default     = "postgres"
  nullable    = false
}

variable "password" {
  description = "Password of user."
  type        = string
  sensitive   = true
  nullable    = false
}

variable "table" {
  description = <<-EOT
    The shard table the API reads and writes (TWEETS_TABLE). Pass it from the sharded-table
    module's output (module.<table>.partitions[<region>].remote_table): the reference makes the
    API container wait until the shard table exists.
  EOT
  type        = string
}
