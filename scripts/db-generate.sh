#!/usr/bin/env bash
# Generates migrations from the schemas with drizzle-kit: core's and each built-in plugin's, both dialects.
# Pass a migration name to use it for every new migration (drizzle-kit otherwise picks a random one).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:+--name "$1"}
for dir in . plugins/*/ test/fixtures/plugins/*/; do
  for config in drizzle.config.ts drizzle-pg.config.ts; do
    [ -f "$dir/$config" ] || continue
    (cd "$dir" && npx drizzle-kit generate --config "$config" $name)
  done
done
