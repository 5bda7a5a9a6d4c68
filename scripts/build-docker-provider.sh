#!/usr/bin/env bash
# Builds the kreuzwerker/docker Terraform provider from the Go module proxy (tools/ module) and
# installs it in the filesystem mirror:
#
#   $PGSHARD_CACHE/mirror/registry.terraform.io/kreuzwerker/docker/$DOCKER_PROVIDER_VERSION/<os>_<arch>/
#     terraform-provider-docker_v$DOCKER_PROVIDER_VERSION
#
# and writes $PGSHARD_CACHE/terraform.rc (filesystem_mirror only). Use it with
#   export TF_CLI_CONFIG_FILE=$PGSHARD_CACHE/terraform.rc
#
# Skips the build when the binary is already there (FORCE=1 rebuilds). Other providers in the
# mirror (pgshard/pgshard from `make install`) are left alone.
#
# DOCKER_PROVIDER_VERSION (default 4.6.0): the version the mirror advertises. The pinned commit
# (tools/go.mod) is kreuzwerker/terraform-provider-docker 96d331c98ff4 of 2026-09-16, whose
# CHANGELOG and docs name v4.6.0 as the latest release.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need go
VERSION=${DOCKER_PROVIDER_VERSION:-4.6.0}
OS_ARCH=$(go env GOOS)_$(go env GOARCH)
DIR=$PGSHARD_CACHE/mirror/registry.terraform.io/kreuzwerker/docker/$VERSION/$OS_ARCH
BIN=$DIR/terraform-provider-docker_v$VERSION

if [[ -x $BIN && -z ${FORCE:-} ]]; then
  log "kreuzwerker/docker $VERSION already in the mirror: $BIN"
else
  log "building kreuzwerker/docker $VERSION from the Go module proxy (about 1.5 min cold)..."
  mkdir -p "$DIR"
  start=$SECONDS
  tmp=$(mktemp "$DIR/.build.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  (
    cd "$PGSHARD_ROOT/tools"
    # -mod=mod is not needed: tools/go.sum is complete. GOFLAGS from the caller still apply.
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$tmp" \
      github.com/terraform-providers/terraform-provider-docker
  )
  chmod 0755 "$tmp"
  mv -f "$tmp" "$BIN"
  trap - EXIT
  log "built $BIN in $((SECONDS - start)) s"
fi

write_terraform_rc
log "CLI config: $PGSHARD_CACHE/terraform.rc (export TF_CLI_CONFIG_FILE=$PGSHARD_CACHE/terraform.rc)"
