#!/usr/bin/env bash
# The demo: the sharded-tweets stack (examples/sharded-tweets) in Docker with one terraform apply.
#
#   scripts/demo.sh prepare   build what is missing (pgshard and docker providers in a local
#                             filesystem mirror, the tweets API image, a PostgreSQL image) and
#                             print the PostgreSQL image to use on stdout
#   scripts/demo.sh up        prepare, then terraform init + apply, and print how to use it
#   scripts/demo.sh down      terraform destroy
#
# The PostgreSQL image is the official postgres:17 when it is present or can be pulled, else
# pgshard/postgres:17-local, built from Debian packages. Providers come only from the mirror
# ($PGSHARD_CACHE/mirror) through $PGSHARD_CACHE/terraform.rc; ~/.terraformrc is never touched.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EXAMPLE=$PGSHARD_ROOT/examples/sharded-tweets
OFFICIAL_PG_IMAGE=${OFFICIAL_PG_IMAGE:-postgres:17}

step() { printf '\n==> %s\n' "$*" >&2; }

terraform_bin() {
  (cd "$PGSHARD_ROOT" && go run ./internal/postgrestest/cmd/terraform-path)
}

postgres_image() {
  if docker image inspect "$OFFICIAL_PG_IMAGE" >/dev/null 2>&1; then
    log "using $OFFICIAL_PG_IMAGE (present locally)"
    echo "$OFFICIAL_PG_IMAGE"
  elif timeout 20 docker pull -q "$OFFICIAL_PG_IMAGE" >/dev/null 2>&1; then
    log "using $OFFICIAL_PG_IMAGE (pulled)"
    echo "$OFFICIAL_PG_IMAGE"
  else
    log "$OFFICIAL_PG_IMAGE cannot be pulled here: building PostgreSQL from Debian packages instead"
    bash "$PGSHARD_ROOT/scripts/build-postgres-image.sh"
  fi
}

prepare() {
  need docker go make
  docker info >/dev/null 2>&1 || die "the Docker engine is not running (docker info failed)"
  step "pgshard provider -> local mirror"
  make -s -C "$PGSHARD_ROOT" install >&2
  step "kreuzwerker/docker provider -> local mirror (built from the Go module proxy, about 3 minutes the first time)"
  bash "$PGSHARD_ROOT/scripts/build-docker-provider.sh" >&2
  step "tweets API image"
  bash "$PGSHARD_ROOT/scripts/build-api-image.sh" >&2
  step "PostgreSQL image"
  postgres_image
}

terraform_in_example() {
  TF_CLI_CONFIG_FILE=$PGSHARD_CACHE/terraform.rc CHECKPOINT_DISABLE=1 "$TF" -chdir="$EXAMPLE" "$@"
}

case ${1:-up} in
prepare)
  prepare
  ;;
up)
  image=$(prepare)
  TF=$(terraform_bin)
  # The chosen image is remembered for later plans and for destroy.
  printf '{ "postgres_image": "%s" }\n' "$image" > "$EXAMPLE/demo.auto.tfvars.json"
  step "terraform init"
  rm -f "$EXAMPLE/.terraform.lock.hcl" # the local provider build changes between runs
  terraform_in_example init -input=false -upgrade >&2
  # A stack applied before the example called the modules keeps its Docker objects at addresses
  # that moved.tf carries over only for the default region keys: with any other key, the apply
  # would replace that region's database and volume (and lose its rows). Stop before that.
  stale=$(terraform_in_example state list 2>/dev/null |
    grep -E '^docker_(network\.region|volume\.region|container\.region_db|container\.api)\[' |
    grep -vE '\["(europe|usa)"\]$' || true)
  if [[ -n $stale ]]; then
    die "this stack was applied before the example called the modules, and moved.tf carries over only the regions europe and usa; add moved blocks for these objects first (see examples/sharded-tweets/moved.tf and its README):
$stale"
  fi
  step "terraform apply"
  start=$(date +%s)
  terraform_in_example apply -auto-approve -input=false
  log "applied in $(( $(date +%s) - start ))s"
  eu=$(terraform_in_example output -json api_urls | sed -E 's/.*"europe":"([^"]*)".*/\1/')
  cat <<MSG

The sharded tweets stack is up. Try:

  curl -s -X POST $eu/tweets -d '{"location":"europe","text":"hello from Europe"}'
  curl -s $eu/tweets
  psql "\$(TF_CLI_CONFIG_FILE=$PGSHARD_CACHE/terraform.rc $TF -chdir=$EXAMPLE output -raw base_database_url)" -c 'SELECT * FROM tweets'

Tear it down with: make demo-destroy
MSG
  ;;
down)
  TF=$(terraform_bin)
  if [[ ! -d $EXAMPLE/.terraform ]]; then
    log "nothing to destroy (the demo was never initialised)"
    exit 0
  fi
  # A region that gave locations to a split (on_rows_outside_bound = "move_to_default") would
  # pull its rows into the base on destroy, and pgshard refuses that plan. Then turn moves off
  # on the foreign partitions alone (a change of settings only; -target so that a stack left
  # half applied is not completed first) and destroy again: every shard keeps its rows until
  # its container goes.
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
  if ! terraform_in_example destroy -auto-approve -input=false -var moves_enabled=false 2>&1 | tee "$out"; then
    grep -q "pulled into the base" "$out" || exit 1
    step "turning moves off before the destroy"
    terraform_in_example apply -auto-approve -input=false -var moves_enabled=false \
      -target=module.tweets.pgshard_foreign_partition.region -target=module.tweets.pgshard_foreign_partition.split >&2
    terraform_in_example destroy -auto-approve -input=false -var moves_enabled=false
  fi
  ;;
*)
  die "usage: $0 prepare|up|down"
  ;;
esac
