#!/usr/bin/env bash
# Builds a Terraform or OpenTofu CLI from the Go module proxy into the cache and prints its path:
#
#   scripts/build-cli.sh terraform 1.5.7   # $PGSHARD_CACHE/terraform-1.5.7/terraform (about 3 min cold)
#   scripts/build-cli.sh tofu 1.12.6       # $PGSHARD_CACHE/tofu-1.12.6 (about 2.5 min on an idle machine,
#                                          # 9 min measured on 2 busy cores)
#
# Terraform is `go install`ed. OpenTofu is built from its own module source, so that its go.mod
# (with its one replace: hashicorp/hcl/v2 => opentofu/hcl/v2) applies, with version.dev=no so it
# reports a release. An existing build is reused.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need go
cli=${1:?usage: build-cli.sh terraform|tofu VERSION}
version=${2:?usage: build-cli.sh terraform|tofu VERSION}
case $cli in
terraform)
  bin=$PGSHARD_CACHE/terraform-$version/terraform
  if [[ ! -x $bin ]]; then
    log "building terraform $version from the Go module proxy (about 3 min cold)..."
    mkdir -p "$(dirname "$bin")"
    GOBIN=$(dirname "$bin") CGO_ENABLED=0 go install "github.com/hashicorp/terraform@v$version" >&2
  fi
  ;;
tofu)
  bin=$PGSHARD_CACHE/tofu-$version
  if [[ ! -x $bin ]]; then
    log "building OpenTofu $version from the Go module proxy (2.5 to 18 min cold)..."
    go mod download "github.com/opentofu/opentofu@v$version" >&2
    src=$(mktemp -d)
    trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
    cp -r "$(go env GOMODCACHE)/github.com/opentofu/opentofu@v$version/." "$src"
    chmod -R u+w "$src"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$bin.tmp" ./cmd/tofu) >&2
    mv "$bin.tmp" "$bin"
  fi
  ;;
*)
  die "unknown CLI $cli (terraform or tofu)"
  ;;
esac
echo "$bin"
