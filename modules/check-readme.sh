#!/usr/bin/env bash
# Checks that each module's README.md documents exactly its variables and outputs: every
# `variable "x"` of the module's *.tf files has a row "| `x` |" in the README's "## Inputs" table,
# every `output "x"` one in "## Outputs", and neither table has a row for anything else.
#
#   modules/check-readme.sh [MODULE_DIR...]   # default: every module under modules/ (a
#                                             # directory with versions.tf), test fixtures aside
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# declared KIND DIR: the names of the module's blocks of KIND (variable or output), sorted.
declared() {
  sed -nE "s/^$1[[:space:]]+\"([^\"]+)\".*/\\1/p" "$2"/*.tf | sort
}

# documented SECTION README: the first-column names of the table under "## SECTION", sorted.
documented() {
  awk -v section="## $1" '
    /^## / { inside = ($0 == section); next }
    inside && /^\|[[:space:]]*`[^`]+`[[:space:]]*\|/ {
      sub(/^\|[[:space:]]*`/, ""); sub(/`.*/, ""); print
    }
  ' "$2" | sort
}

# compare MODULE WHAT DECLARED DOCUMENTED: prints each difference, fails when there is one.
compare() {
  local status=0 name
  while read -r name; do
    [[ -n $name ]] || continue
    echo "$1: $2 \"$name\" is declared but missing from the README's table" >&2
    status=1
  done < <(comm -23 <(echo "$3") <(echo "$4"))
  while read -r name; do
    [[ -n $name ]] || continue
    echo "$1: the README's table documents $2 \"$name\", which the module does not declare" >&2
    status=1
  done < <(comm -13 <(echo "$3") <(echo "$4"))
  while read -r name; do
    [[ -n $name ]] || continue
    echo "$1: the README's table documents $2 \"$name\" more than once" >&2
    status=1
  done < <(echo "$4" | uniq -d)
  return $status
}

if (($# == 0)); then
  mapfile -t modules < <(find "$here" -name versions.tf -not -path '*/.terraform/*' -not -path '*/tests/*' -printf '%h\n' | sort)
  set -- "${modules[@]}"
fi

failed=0
for dir in "$@"; do
  dir=${dir%/}
  module=${dir#"$here"/}
  readme=$dir/README.md
  if [[ ! -f $readme ]]; then
    echo "$module: no README.md" >&2
    failed=1
    continue
  fi
  compare "$module" variable "$(declared variable "$dir")" "$(documented Inputs "$readme")" || failed=1
  compare "$module" output "$(declared output "$dir")" "$(documented Outputs "$readme")" || failed=1
  ((failed)) || echo "$module: README documents every input and output"
done
exit $failed
