# The base database: the one that holds the sharded (partitioned) table.
# Every argument falls back to the libpq environment variable (PGHOST, PGPORT, ...).
provider "pgshard" {
  host            = "127.0.0.1"
  port            = 5433
  database        = "tweets"
  username        = "postgres"
  password        = var.base_password
  sslmode         = "disable"
  connect_timeout = 30 # keep retrying a server that is still starting for 30 s
  max_connections = 8  # one pool per database, shared by every resource

  # TLS, verifying the server's certificate and the host name it names:
  # sslmode     = "verify-full"
  # sslrootcert = "/etc/pgshard/root.crt"   # the CA that signed the server's certificate (PGSSLROOTCERT)
  # sslcert     = "/etc/pgshard/client.crt" # a client certificate, when the server asks for one (PGSSLCERT)
  # sslkey      = "/etc/pgshard/client.key" # its key, mode 0600 (PGSSLKEY)
}

variable "base_password" {
  type      = string
  sensitive = true
}
