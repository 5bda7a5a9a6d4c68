variable "name_prefix" {
  description = "Prefix of the region's Docker names: the test's own, so that leftovers of a killed run can be swept."
  type        = string
}

variable "postgres_image" {
  description = "The PostgreSQL image, present locally (scripts/demo.sh prepare prints it)."
  type        = string
}

variable "api_image" {
  description = "The tweets API image, present locally (scripts/build-api-image.sh builds it)."
  type        = string
}

variable "db_port" {
  description = "Port on 127.0.0.1 where the region's database is published."
  type        = number
}

variable "api_port" {
  description = "Port on 127.0.0.1 where the region's API is published."
  type        = number
}

variable "password" {
  description = "Password of the postgres user."
  type        = string
  sensitive   = true
}
