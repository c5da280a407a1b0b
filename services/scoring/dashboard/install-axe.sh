#!/usr/bin/env bash
# Installs axe-core (the accessibility checker the dashboard's browser test runs in the page)
# from the npm registry into tools/axe-core/ (git-ignored), unless it is already there.
# Pinned by version and by the SHA-256 of axe.min.js (axe-core's own sri-history.json has the
# same hash). Prints the path of axe.min.js. Needs npm; idempotent.
set -euo pipefail

VERSION=4.14.1
SHA256=29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
DIR=${AXE_CORE_DIR:-$ROOT/tools/axe-core}
FILE=$DIR/node_modules/axe-core/axe.min.js

verified() { [ -f "$FILE" ] && echo "$SHA256  $FILE" | sha256sum --check --status; }

if ! verified; then
  if ! command -v npm >/dev/null; then
    echo "axe-core: missing, and installing it needs npm (the npm registry)" >&2
    exit 1
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    --prefix "$DIR" "axe-core@$VERSION" >&2
  if ! verified; then
    echo "axe-core: $FILE does not have the pinned SHA-256 ($SHA256)" >&2
    exit 1
  fi
fi
echo "$FILE"
