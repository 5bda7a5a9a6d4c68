output "url" {
  description = "URL of the API on 127.0.0.1."
  value       = var.port == null ? null : "http://127.0.0.1:${var.port}"
}

output "container" {
  description = "Name of the API container."
  value       = docker_container.api.name
}

output "table" {
  description = "The shard table the API serves (TWEETS_TABLE)."
  value       = var.table
}
