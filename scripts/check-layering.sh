#!/usr/bin/env bash
# Fails when a crate depends on something its ring must not know (STYLE.md: dependencies
# point inward). `cargo tree -i X` prints the path to X only when X is a dependency.
set -euo pipefail
fail=0
forbid() { # crate, dependency
  if [ -n "$(cargo tree -p "$1" -e normal -i "$2" --offline 2>/dev/null)" ]; then
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
# Adapters translate and do not know each other.
forbid tessera-api-actix diesel
forbid tessera-api-actix tessera-infra-diesel
forbid tessera-infra-diesel actix-web
forbid tessera-infra-crypto diesel
forbid tessera-api-actix redis
forbid tessera-infra-activity diesel
forbid tessera-infra-diesel redis
# The check itself must be able to see a dependency, or it proves nothing.
if [ -z "$(cargo tree -p tessera-server -e normal -i diesel --offline 2>/dev/null)" ]; then
  echo "layering: cargo tree found no diesel under tessera-server; the check is broken" >&2
  fail=1
fi
[ "$fail" = 0 ] && echo "layering: ok"
exit "$fail"
