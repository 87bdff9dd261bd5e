#!/usr/bin/env bash
# Fails when a crate depends on something its ring must not know (STYLE.md: dependencies
# point inward). `cargo tree -i X` prints nothing when X is not a dependency.
set -euo pipefail
fail=0
forbid() { # crate, dependency
  if cargo tree -p "$1" -e normal -i "$2" --offline >/dev/null 2>&1; then
    echo "layering: $1 must not depend on $2" >&2
    fail=1
  fi
}
for dep in diesel actix-web tokio redis jsonwebtoken argon2 r2d2 rand_core; do
  forbid tessera-domain "$dep"
done
for dep in diesel actix-web redis jsonwebtoken argon2 r2d2 rand_core; do
  forbid tessera-application "$dep"
done
[ "$fail" = 0 ] && echo "layering: ok"
exit "$fail"
