#!/usr/bin/env bash
# Builds a PostgreSQL image from Debian packages without pulling anything from a registry:
#
#   1. mmdebstrap (installed with apt-get if missing) makes a Debian root file system with
#      postgresql-$PG_MAJOR (postgres_fdw and dblink are in it) from the mirror apt is
#      configured with, trimmed of docs, man pages, translations, locale sources and (unless
#      PG_WITH_JIT=1) LLVM. The tar is cached in
#      $PGSHARD_CACHE/postgres/.
#   2. `docker import` turns it into pgshard/postgres-rootfs:$PG_MAJOR-<key> with the
#      runtime settings (PATH with /usr/lib/postgresql/$PG_MAJOR/bin, ENTRYPOINT, CMD,
#      EXPOSE 5432, USER root).
#   3. `docker build` FROM that local image (nothing to pull) adds scripts/postgres-entrypoint.sh
#      as /usr/local/bin/docker-entrypoint.sh, which takes POSTGRES_USER, POSTGRES_PASSWORD,
#      POSTGRES_DB like the official image, and tags pgshard/postgres:$PG_MAJOR-local.
#
# It prefers Debian trixie with PostgreSQL 17 and falls back to bookworm with PostgreSQL 15 when
# trixie cannot be installed. PG_SUITE=trixie|bookworm forces one (PG_MAJOR then defaults to 17
# or 15). The image tag is printed on stdout, progress on stderr.
#
# Idempotent: skips every step whose result exists for the same inputs (the final image carries
# the inputs' hash as label org.pgshard.source-hash). FORCE=1 rebuilds from scratch.
#
# PG_WITH_JIT=1 keeps LLVM and PostgreSQL's JIT provider (160 MB more).
#
# DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR override the mirrors read from /etc/apt (set
# DEBIAN_SECURITY_MIRROR=none to leave out the security suite).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need docker
IMAGE_REPO=${PG_IMAGE_REPO:-pgshard/postgres}
ROOTFS_REPO=${IMAGE_REPO}-rootfs
WORK=$PGSHARD_CACHE/postgres
ENTRYPOINT_SRC=$PGSHARD_ROOT/scripts/postgres-entrypoint.sh
# Bump when the root file system recipe below changes in a way its inputs don't show.
RECIPE_VERSION=1

# apt_uris prints the URIs of the host's enabled apt sources, one a line.
apt_uris() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
  done
}

detect_mirrors() {
  local uris
  uris=$(apt_uris | sed 's:/*$::')
  MIRROR=${DEBIAN_MIRROR:-$(grep -E '/debian$' <<<"$uris" | head -n1 || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(grep -E '/debian-security$' <<<"$uris" | head -n1 || true)}
  [[ $SECURITY_MIRROR == none ]] && SECURITY_MIRROR=
  return 0
}

ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null && return 0
  [[ $(id -u) == 0 ]] || die "mmdebstrap is missing: run 'apt-get install -y mmdebstrap' as root"
  log "installing mmdebstrap with apt-get..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends mmdebstrap >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends mmdebstrap >&2; }
}

# rootfs_key SUITE MAJOR: a hash of everything the root file system is made from.
rootfs_key() {
  printf '%s\n' "$RECIPE_VERSION" "$1" "$2" "$MIRROR" "$SECURITY_MIRROR" "${PG_WITH_JIT:-}" \
    "$(declare -f build_rootfs)" |
    sha256sum | cut -c1-12
}

# build_rootfs SUITE MAJOR TAR: mmdebstrap the root file system into TAR.
build_rootfs() {
  local suite=$1 major=$2 tar=$3 tmp
  local sources=("deb $MIRROR $suite main" "deb $MIRROR $suite-updates main")
  [[ -n $SECURITY_MIRROR ]] && sources+=("deb $SECURITY_MIRROR $suite-security main")
  # LLVM (JIT compilation of expensive queries) is 160 MB of the 400: leave its files out
  # unless PG_WITH_JIT=1. Without llvmjit.so, PostgreSQL quietly runs without JIT
  # (pg_jit_available() is false); dpkg still counts the packages as installed.
  local nojit=()
  if [[ ${PG_WITH_JIT:-} != 1 ]]; then
    nojit=(
      --dpkgopt='path-exclude=/usr/lib/*/libLLVM*'
      --dpkgopt='path-exclude=/usr/lib/*/libz3.so*'
      --dpkgopt="path-exclude=/usr/lib/postgresql/$major/lib/llvmjit*"
      --dpkgopt="path-exclude=/usr/lib/postgresql/$major/lib/bitcode/*"
    )
  fi
  # Callers run this in an `if`, where set -e does not apply: every step checks itself.
  ensure_mmdebstrap || return 1
  tmp="$tar.tmp"
  rm -f "$tmp"
  # The hooks run with the root directory as $1. The postgres user gets uid/gid 999 like in
  # the official image, so a data volume can move between the two. Debian's postinst creates
  # a "main" cluster, which the image does not want (the entrypoint runs initdb in PGDATA).
  # shellcheck disable=SC2016 # $1 in the hooks is for mmdebstrap's shell, not this one.
  mmdebstrap --variant=apt --format=tar \
    --include="postgresql-$major,ca-certificates,tzdata" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/i18n/*' \
    "${nojit[@]}" \
    --essential-hook='grep -q "^postgres:" "$1/etc/passwd" || {
        echo "postgres:x:999:999:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash" >>"$1/etc/passwd"
        echo "postgres:x:999:" >>"$1/etc/group"; }' \
    --customize-hook="chroot \"\$1\" sh -euxc '
        rm -rf /etc/postgresql/$major/main /var/lib/postgresql/$major/main /var/log/postgresql/*
        install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
        install -d -o postgres -g postgres -m 3775 /run/postgresql
        install -d -m 0755 /docker-entrypoint-initdb.d
        rm -rf /var/cache/apt/* /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
        test \"\$(id -u postgres)\" = 999
        for f in bin/postgres bin/initdb bin/pg_ctl bin/pg_isready bin/psql lib/postgres_fdw.so lib/dblink.so; do
          test -e /usr/lib/postgresql/$major/\$f
        done
        command -v setpriv
      '" \
    "$suite" "$tmp" "${sources[@]}" >&2 || { rm -f "$tmp"; return 1; }
  mv -f "$tmp" "$tar"
}

# build_image SUITE MAJOR: builds pgshard/postgres:MAJOR-local unless it is up to date.
build_image() {
  local suite=$1 major=$2 key tar rootfs_image tag hash ctx start old_id
  tag=$IMAGE_REPO:$major-local
  key=$(rootfs_key "$suite" "$major")
  rootfs_image=$ROOTFS_REPO:$major-$key
  hash=$(cat "$ENTRYPOINT_SRC" - <<<"$key" | sha256sum | cut -c1-16)
  if [[ -z ${FORCE:-} && $(image_label "$tag" org.pgshard.source-hash) == "$hash" ]]; then
    log "$tag is up to date (Debian $suite, PostgreSQL $major)"
    echo "$tag"
    return 0
  fi

  mkdir -p "$WORK"
  tar=$WORK/rootfs-$suite-pg$major-$key.tar
  if [[ -n ${FORCE:-} || ! -s $tar ]]; then
    log "building the root file system: Debian $suite, postgresql-$major, from $MIRROR ..."
    start=$SECONDS
    build_rootfs "$suite" "$major" "$tar" || return 1
    log "root file system ready in $((SECONDS - start)) s: $tar ($(du -h "$tar" | cut -f1))"
    # Older recipes' tars are of no more use.
    find "$WORK" -maxdepth 1 -name "rootfs-$suite-pg$major-*.tar*" ! -name "$(basename "$tar")" -delete
  else
    log "using the cached root file system $tar"
  fi

  if [[ -n ${FORCE:-} ]] || ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
    log "importing it as $rootfs_image ..."
    start=$SECONDS
    docker import \
      --change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "ENV PG_MAJOR=$major" \
      --change "ENV PGDATA=/var/lib/postgresql/data" \
      --change "ENV LANG=C.UTF-8" \
      --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
      --change 'CMD ["postgres"]' \
      --change 'EXPOSE 5432' \
      --change 'USER root' \
      --change 'WORKDIR /' \
      --message "Debian $suite with postgresql-$major (pgshard scripts/build-postgres-image.sh)" \
      "$tar" "$rootfs_image" >&2 || return 1
    log "imported in $((SECONDS - start)) s"
  fi

  log "building $tag FROM $rootfs_image with the entrypoint ..."
  old_id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  ctx=$(mktemp -d)
  # set -e does not apply here (callers use `if build_image`): check each step.
  cp "$ENTRYPOINT_SRC" "$ctx/docker-entrypoint.sh"
  chmod 0755 "$ctx/docker-entrypoint.sh"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $rootfs_image
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
LABEL org.pgshard.source-hash="$hash" \\
      org.pgshard.debian-suite="$suite" \\
      org.pgshard.postgres-major="$major" \\
      org.opencontainers.image.description="PostgreSQL $major from Debian $suite packages, built offline by pgshard"
DOCKERFILE
  if ! docker build --pull=false -t "$tag" "$ctx" >&2; then
    rm -rf "$ctx"
    return 1
  fi
  rm -rf "$ctx"
  # Drop the image this one replaces (unless a container still uses it) and rootfs images of
  # older recipes.
  if [[ -n $old_id && $old_id != "$(docker image inspect --format '{{.Id}}' "$tag")" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
  docker image ls --format '{{.Repository}}:{{.Tag}}' "$ROOTFS_REPO" |
    grep -E "^$ROOTFS_REPO:$major-" | grep -vxF "$rootfs_image" | xargs -r docker image rm >&2 || true
  log "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
  echo "$tag"
}

detect_mirrors
case ${PG_SUITE:-} in
  "") candidates=("trixie ${PG_MAJOR:-17}" "bookworm 15") ;;
  trixie) candidates=("trixie ${PG_MAJOR:-17}") ;;
  bookworm) candidates=("bookworm ${PG_MAJOR:-15}") ;;
  *) [[ -n ${PG_MAJOR:-} ]] || die "PG_SUITE=$PG_SUITE needs PG_MAJOR"; candidates=("$PG_SUITE $PG_MAJOR") ;;
esac
for c in "${candidates[@]}"; do
  read -r suite major <<<"$c"
  if build_image "$suite" "$major"; then
    exit 0
  fi
  log "could not build PostgreSQL $major from Debian $suite"
done
die "no PostgreSQL image could be built (tried: ${candidates[*]})"
