#!/usr/bin/env bash
# Lints the tarballs users will install: publint (package.json fields, exports, files) and
# arethetypeswrong (types resolve under every TypeScript moduleResolution). Packs them first unless
# given a folder of tarballs. Exits non-zero on any problem.
#   scripts/check-packages.sh [TARBALL_DIR]
#
# attw ignores one rule, cjs-resolves-to-esm: these packages are ES modules only, and that rule is
# TypeScript's node16 view from CommonJS, from before Node could require() ES modules; on the Node
# versions we support (>= 20.19) require() works, which .ci/pack-and-install checks for real. Every
# other resolution, node10 (moduleResolution "node") included, must be clean.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
  tarballs=("$1"/*.tgz)
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  mapfile -t tarballs < <(scripts/pack.sh "$dir")
fi
failed=0
for tarball in "${tarballs[@]}"; do
  echo "--- $(basename "$tarball")"
  pnpm exec publint run --strict "$tarball" | grep -v -e '^Running publint' -e '^Unpacking tarball' -e '^Linting' || failed=1
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
  pnpm exec attw --ignore-rules cjs-resolves-to-esm --format table-flipped --no-emoji --no-color "$tarball" || failed=1
done
[ "$failed" -eq 0 ] && echo "publint and attw: no problems in ${#tarballs[@]} packages"
exit "$failed"
