#!/usr/bin/env bash
# Packs every public workspace package into OUTDIR as npm would publish it: `pnpm pack` runs each
# package's prepack (its build) and turns `workspace:*` dependencies into the exact versions.
# Prints the tarballs' paths, one a line.
#   scripts/pack.sh OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:?usage: scripts/pack.sh OUTDIR}" && cd "$1" && pwd)
for manifest in packages/*/package.json; do
  dir=$(dirname "$manifest")
  [ "$(node -p "require('./$manifest').private === true")" = true ] && continue
  (cd "$dir" && pnpm pack --pack-destination "$out" >/dev/null) || { echo "pack: $dir failed" >&2; exit 1; }
  node -p "const p = require('./$manifest'); '$out/' + p.name.replace('@', '').replace('/', '-') + '-' + p.version + '.tgz'"
done
