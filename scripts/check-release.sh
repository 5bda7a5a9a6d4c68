#!/usr/bin/env bash
# Checks the artifacts a goreleaser run left in dist/ (`make release-snapshot`) against the
# names the Terraform Registry needs, with <version> from dist/metadata.json:
#
#   terraform-provider-pgshard_<version>_<os>_<arch>.zip  for each os/arch of .goreleaser.yml,
#                                                         holding terraform-provider-pgshard_v<version>
#                                                         (.exe on windows)
#   terraform-provider-pgshard_<version>_SHA256SUMS       every zip (sha256sum -c) and the manifest
#   terraform-provider-pgshard_<version>_manifest.json    terraform-registry-manifest.json
#
# goreleaser uploads the manifest from the repository at release (release.extra_files) and
# only lists it in SHA256SUMS (checksum.extra_files), so dist/ has no copy of it: its line
# must carry the repository file's checksum. Prints every problem found, then exits 1.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need unzip sha256sum
PROJECT=terraform-provider-pgshard
# goos x goarch of .goreleaser.yml.
PLATFORMS=(darwin_amd64 darwin_arm64 freebsd_amd64 freebsd_arm64 linux_amd64 linux_arm64 windows_amd64 windows_arm64)
DIST=${DIST:-$PGSHARD_ROOT/dist} # DIST=dir checks another copy
MANIFEST=$PGSHARD_ROOT/terraform-registry-manifest.json

problems=0
problem() { log "$*"; problems=$((problems + 1)); }

[[ -f $DIST/metadata.json ]] || die "no $DIST/metadata.json: run goreleaser first (make release-snapshot)"
version=$(grep -o '"version":"[^"]*"' "$DIST/metadata.json" | head -1 | cut -d'"' -f4)
[[ -n $version ]] || die "no version in $DIST/metadata.json"
prefix=${PROJECT}_$version

want=()
for platform in "${PLATFORMS[@]}"; do want+=("${prefix}_$platform.zip"); done
got=$(cd "$DIST" && ls -1 -- *.zip 2>/dev/null | sort || true)
missing=$(comm -23 <(printf '%s\n' "${want[@]}" | sort) <(printf '%s\n' "$got"))
unexpected=$(comm -13 <(printf '%s\n' "${want[@]}" | sort) <(printf '%s\n' "$got"))
[[ -z $missing ]] || problem "missing zips: $(tr "\n" " " <<<"$missing")"
[[ -z $unexpected ]] || problem "zips of no platform of .goreleaser.yml: $(tr "\n" " " <<<"$unexpected")"

sums=${prefix}_SHA256SUMS
if [[ ! -f $DIST/$sums ]]; then
  problem "no checksum file $sums"
else
  for zip in "${want[@]}"; do
    grep -qE "^[0-9a-f]{64}  $zip\$" "$DIST/$sums" || problem "$sums does not list $zip"
  done
  # Every zip line checks out; the manifest has no copy in dist/ (see above).
  grep -E '\.zip$' "$DIST/$sums" | (cd "$DIST" && sha256sum --quiet -c -) || problem "$sums: a zip's checksum does not match"
  if grep -q 'terraform-registry-manifest.json' "$PGSHARD_ROOT/.goreleaser.yml"; then
    line="$(sha256sum <"$MANIFEST" | cut -d' ' -f1)  ${prefix}_manifest.json"
    grep -qxF "$line" "$DIST/$sums" || problem "$sums does not list ${prefix}_manifest.json with the checksum of terraform-registry-manifest.json"
  fi
  extra=$(grep -vE "  ${prefix}_([a-z]+_[a-z0-9]+\.zip|manifest\.json)\$" "$DIST/$sums" || true)
  [[ -z $extra ]] || problem "$sums lists more than the zips and the manifest: $extra"
fi

for zip in "${want[@]}"; do
  [[ -f $DIST/$zip ]] || continue
  binary=${PROJECT}_v$version
  [[ $zip == *_windows_* ]] && binary+=.exe
  unzip -Z1 "$DIST/$zip" | grep -qxF "$binary" || problem "$zip does not hold $binary"
done

if ((problems)); then
  log "$problems problem(s) with the release artifacts of $version in $DIST"
  exit 1
fi
log "ok: ${#want[@]} zips holding ${PROJECT}_v$version, $sums (zips verified, manifest listed)"
