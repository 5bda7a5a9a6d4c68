# shellcheck shell=bash
# Shared helpers for the demo build scripts. Source it; it does nothing on its own.
#
# Every script caches in PGSHARD_CACHE (default ~/.cache/pgshard), is idempotent (a second
# run skips work that is already done) and needs nothing from outside but the Go module
# proxy and the Debian mirror apt is configured with.

# shellcheck disable=SC2034 # used by the scripts that source this file
PGSHARD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGSHARD_CACHE=${PGSHARD_CACHE:-$HOME/.cache/pgshard}
export PGSHARD_CACHE

# log prints a progress line, prefixed with the script's name, to stderr.
log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || die "'$c' is not on PATH"; done
}

# image_label IMAGE LABEL prints the label's value, or nothing when the image or label is missing.
image_label() {
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# write_if_changed FILE: writes stdin to FILE unless FILE already holds exactly that (atomic).
write_if_changed() {
  local file=$1 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then rm -f "$tmp"; return 0; fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$file"
}

# write_terraform_rc writes $PGSHARD_CACHE/terraform.rc, a CLI config that installs every
# provider from the filesystem mirror only (no `direct`: there is no registry offline). The
# main module's `make install` writes the same content.
write_terraform_rc() {
  mkdir -p "$PGSHARD_CACHE/mirror"
  printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' \
    "$PGSHARD_CACHE/mirror" | write_if_changed "$PGSHARD_CACHE/terraform.rc"
}
