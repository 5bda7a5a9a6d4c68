# host, port and dbname depend on the database container: a caller that passes them to the
# sharded-table module waits for the database to answer before reaching it.

output "host" {
  description = "Where the base database reaches this region's database: 127.0.0.1, on the published db_port, from the host's network (the base joins no region's network, so adding a region never restarts it)."
  value       = "127.0.0.1"
  depends_on  = [docker_container.db]
}

output "port" {
  description = "The database's published port on 127.0.0.1 (db_port)."
  value       = var.db_port
  depends_on  = [docker_container.db]
}

output "dbname" {
  description = "Name of the region's database."
  value       = var.dbname
  depends_on  = [docker_container.db]
}

output "network" {
  description = "Name of the region's Docker network, where the database answers as container:5432."
  value       = docker_network.this.name
}

output "container" {
  description = "Name of the database container."
  value       = docker_container.db.name
}

output "api_url" {
  description = "URL of the region's tweets API on 127.0.0.1, or null without the API."
  value       = one(module.api[*].url)
}
