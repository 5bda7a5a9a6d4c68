#!/usr/bin/env bash
# Fails when the tree tracks build output: an executable or object file (ELF, Mach-O, PE, a Go
# archive), a test binary, a profile, or any file over 1 MiB. Built things belong in bin/,
# dist/ or the cache (see .gitignore), never in git.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r -d '' f; do
  [[ -f $f ]] || continue # deleted in the work tree, not yet in the index
  magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
  case $magic in
    7f454c46 | cffaedfe | cefaedfe | feedface | feedfacf | 4d5a*) what="an executable (magic $magic)" ;;
    213c6172) what="an archive (!<arch>)" ;;
    *) what="" ;;
  esac
  case $f in
    *.test | *.prof | *.pprof | *.o | *.a | *.so) what=${what:-"build output (by its name)"} ;;
  esac
  size=$(wc -c < "$f")
  if [[ -z $what ]] && (( size > 1048576 )); then
    what="$size bytes (over 1 MiB)"
  fi
  if [[ -n $what ]]; then
    echo "check-tree: $f is $what: remove it from git (git rm --cached) and ignore it"
    status=1
  fi
done < <(git ls-files -z)
exit $status
