#!/usr/bin/env bash
# Builds a Go tool pinned in a module of its own under tools/ (so that its dependencies never
# meet the provider's or the Docker provider's) into the cache, once, and prints its path:
#
#   scripts/build-tool.sh lint      # golangci-lint, tools/lint/go.mod (about 2 min cold)
#   scripts/build-tool.sh release   # goreleaser, tools/release/go.mod
#   scripts/build-tool.sh docs      # tfplugindocs, tools/docs/go.mod
#
# The binary is $PGSHARD_CACHE/bin/<tool>-<version>, the version read from the module's
# go.mod: a new pin builds anew, an existing build is reused.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need go
tool=${1:?usage: build-tool.sh lint|release|docs}
case $tool in
lint) name=golangci-lint module=github.com/golangci/golangci-lint/v2 pkg=github.com/golangci/golangci-lint/v2/cmd/golangci-lint ;;
release) name=goreleaser module=github.com/goreleaser/goreleaser/v2 pkg=github.com/goreleaser/goreleaser/v2 ;;
docs) name=tfplugindocs module=github.com/hashicorp/terraform-plugin-docs pkg=github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs ;;
*) die "unknown tool $tool (lint, release or docs)" ;;
esac
dir=$PGSHARD_ROOT/tools/$tool
# A require line inside a block, or one of its own.
version=$(awk -v m="$module" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$dir/go.mod")
[[ -n $version ]] || die "$module is not required in $dir/go.mod"
bin=$PGSHARD_CACHE/bin/$name-$version

if [[ ! -x $bin ]]; then
  log "building $name $version from the Go module proxy (once)..."
  mkdir -p "$(dirname "$bin")"
  start=$SECONDS
  tmp=$(mktemp "$bin.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  CGO_ENABLED=0 go build -C "$dir" -trimpath -o "$tmp" "$pkg" >&2
  chmod 0755 "$tmp"
  mv -f "$tmp" "$bin"
  trap - EXIT
  log "built $bin in $((SECONDS - start)) s"
fi
echo "$bin"
