#!/usr/bin/env bash
# Entrypoint of the locally built PostgreSQL image (scripts/build-postgres-image.sh), installed
# as /usr/local/bin/docker-entrypoint.sh. It behaves like the official postgres image's:
#
#   POSTGRES_PASSWORD          superuser password; required unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created on first start (default: POSTGRES_USER)
#   POSTGRES_INITDB_ARGS       extra initdb arguments (e.g. "--data-checksums")
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for TCP connections (default scram-sha-256)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
#   X_FILE                     for POSTGRES_PASSWORD, _USER, _DB, _INITDB_ARGS: read X from a file
#
# On first start (no PG_VERSION in PGDATA) it runs initdb (local socket: trust; TCP from
# anywhere: scram-sha-256), listens on '*', creates POSTGRES_DB and runs
# /docker-entrypoint-initdb.d/*.sql, *.sql.gz and *.sh (in name order) against a temporary
# server that listens only on a private Unix socket (PGHOST is set for the *.sh scripts).
# Started as root, it first fixes the ownership of PGDATA (a fresh named volume or a bind
# mount may be root's) and re-executes itself as user postgres with setpriv. Arguments
# starting with '-' are passed to postgres; any other command is exec'ed as is.
set -Eeo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }

# file_env VAR [DEFAULT]: VAR from the environment, or from the file named by VAR_FILE.
file_env() {
  local var=$1 def=${2:-} fvar="${1}_FILE" val
  if [[ -n ${!var:-} && -n ${!fvar:-} ]]; then
    log "error: both $var and $fvar are set (but are exclusive)"
    exit 1
  fi
  val=$def
  if [[ -n ${!var:-} ]]; then
    val=${!var}
  elif [[ -n ${!fvar:-} ]]; then
    val=$(<"${!fvar}")
  fi
  export "$var=$val"
  unset "$fvar"
}

if [[ ${1:0:1} == - ]]; then
  set -- postgres "$@"
fi
# postgres --help, --version and the like need no data directory.
want_help() {
  local a
  for a; do
    case $a in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
  done
  return 1
}
if [[ $1 != postgres ]] || want_help "$@"; then
  exec "$@"
fi

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  # Only what is not postgres's already: cheap on a big existing data directory.
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chown postgres:postgres /var/run/postgresql
  chmod 3775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

process_sql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"
}

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [[ -z $POSTGRES_PASSWORD && $auth != trust ]]; then
    cat >&2 <<'MSG'
Error: the database is uninitialized and the superuser password is not set.
       Set POSTGRES_PASSWORD to a non-empty value (e.g. "-e POSTGRES_PASSWORD=password"),
       or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a password
       (not recommended).
MSG
    exit 1
  fi
  if [[ $auth == trust ]]; then
    log "warning: POSTGRES_HOST_AUTH_METHOD=trust: every TCP connection is allowed without a password"
  fi

  log "initializing $PGDATA for superuser $POSTGRES_USER"
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments.
  if [[ -n $POSTGRES_PASSWORD ]]; then
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
      --auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS
  else
    initdb --username="$POSTGRES_USER" --auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS
  fi
  {
    echo
    echo "# Added by the entrypoint: TCP connections from anywhere."
    echo "host all all all $auth"
  } >>"$PGDATA/pg_hba.conf"
  printf "\n# Added by the entrypoint.\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A server for the initialization only: no TCP, and its Unix socket in a private directory,
  # so neither clients nor a pg_isready health check see it as the ready server.
  init_socket=$(mktemp -d /tmp/pg-init.XXXXXX)
  pg_ctl -D "$PGDATA" -w start \
    -o "-c listen_addresses='' -c unix_socket_directories=$init_socket -p ${PGPORT:-5432}"
  export PGHOST=$init_socket PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
  process_sql --dbname postgres --set db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh)
        if [[ -x $f ]]; then
          log "running $f"
          "$f"
        else
          log "sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *.sql) log "running $f"; process_sql --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | process_sql --dbname "$POSTGRES_DB" ;;
      *) log "ignoring $f" ;;
    esac
  done
  shopt -u nullglob
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGHOST PGPASSWORD
  rm -rf "$init_socket"
  log "PostgreSQL init process complete; ready for start up."
else
  log "PostgreSQL data directory $PGDATA already initialized; skipping initialization"
fi

exec "$@"
