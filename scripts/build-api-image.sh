#!/usr/bin/env bash
# Builds the tweets API (examples/sharded-tweets/tweets-api) as a static binary and a FROM
# scratch image, pgshard/tweets-api:local (API_IMAGE overrides the tag). Nothing is pulled.
#
# Skips the build when the image already carries the current source hash (label
# org.pgshard.source-hash: the module's *.go, go.mod, go.sum and Dockerfile, plus the Go
# version). FORCE=1 rebuilds. The image tag is printed on stdout, progress on stderr.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need go docker
TAG=${API_IMAGE:-pgshard/tweets-api:local}
SRC=$PGSHARD_ROOT/examples/sharded-tweets/tweets-api

hash=$(
  cd "$SRC"
  { go env GOVERSION; find . -maxdepth 1 -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum -o -name Dockerfile \) | LC_ALL=C sort | xargs sha256sum; } |
    sha256sum | cut -c1-16
)
if [[ -z ${FORCE:-} && $(image_label "$TAG" org.pgshard.source-hash) == "$hash" ]]; then
  log "$TAG is up to date (source $hash)"
  echo "$TAG"
  exit 0
fi

start=$SECONDS
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
log "building the static tweets-api binary ..."
(cd "$SRC" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags '-s -w' -o "$ctx/tweets-api" .)
cp "$SRC/Dockerfile" "$ctx/Dockerfile"
log "building $TAG (FROM scratch) ..."
old_id=$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
docker build --pull=false --label "org.pgshard.source-hash=$hash" -t "$TAG" "$ctx" >&2
if [[ -n $old_id && $old_id != "$(docker image inspect --format '{{.Id}}' "$TAG")" ]]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true # unless a container still uses it
fi
log "built $TAG in $((SECONDS - start)) s ($(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.1f MB", $1/1e6}'))"
echo "$TAG"
