output "api_urls" {
  description = "The tweets API of each region."
  value       = { for name, r in var.regions : name => "http://127.0.0.1:${r.api_port}" }
}

output "base_database_url" {
  description = "Connection string of the base database, which holds the partitioned tweets table."
  value       = "postgres://${replace(urlencode(local.base.username), "+", "%20")}:${replace(urlencode(local.base.password), "+", "%20")}@${local.base.host}:${local.base.port}/${replace(urlencode(local.base.database), "+", "%20")}?sslmode=disable"
  sensitive   = true
}

output "shard_database_ports" {
  description = "Where each region's database is published on 127.0.0.1."
  value       = { for name, r in var.regions : name => r.db_port }
}
