#!/usr/bin/env bash
# Browser tests: clients/web/tessera.js and the /demo page in Debian's Chromium,
# driven by playwright-core, against a real `tessera serve` per test file.
#
#   bash tests/browser/run.sh                 # what `make test` runs
#   TESSERA_TRACE=1 bash tests/browser/run.sh # log every request of every page
#   bash tests/browser/run.sh tests/tabs.test.js   # some files only (relative to tests/browser)
#
# Needs /usr/bin/chromium (apt-get install chromium) and tests/browser/node_modules
# (cd tests/browser && npm ci). Without them it prints "SKIPPED browser tests: ..."
# and succeeds, unless CI is set, where it fails. Screenshots and server logs go
# to tests/browser/artifacts/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
chromium="${TESSERA_CHROMIUM:-/usr/bin/chromium}"

missing=()
if ! command -v node >/dev/null 2>&1; then
  missing+=("node is not installed")
elif ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)'; then
  missing+=("node $(node --version) is older than 20.10")
fi
[ -x "$chromium" ] || missing+=("$chromium is missing (apt-get install chromium)")
[ -d "$here/node_modules/playwright-core" ] || missing+=("tests/browser/node_modules is missing (cd tests/browser && npm ci)")

if [ "${#missing[@]}" -gt 0 ]; then
  why="$(printf '%s; ' "${missing[@]}")"
  why="${why%; }"
  case "${CI:-}" in
    "" | false | 0)
      echo "SKIPPED browser tests: $why"
      exit 0
      ;;
    *)
      echo "browser tests cannot run in CI: $why" >&2
      exit 1
      ;;
  esac
fi

# The server under test; a no-op when it is fresh. The demo files are compiled
# into the binary, so this also picks up changes to clients/web.
(cd "$root" && "${CARGO:-cargo}" build --quiet -p tessera-server --bin tessera)
export TESSERA_BINARY="$root/target/debug/tessera"

mkdir -p "$here/artifacts"
cd "$here"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  files=(tests/*.test.js)
fi
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
