#!/bin/sh
# Serves gantry on Deno (`npm run start:deno`). Arguments go to `gantry serve`.
# DENO_SANDBOX=1 runs it under a permission set limited to what gantry needs (docs/operations.md);
# extra entries, comma-separated: DENO_ALLOW_READ / DENO_ALLOW_WRITE (folders holding plugins installed
# from elsewhere), DENO_ALLOW_RUN (model-server executables).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
deno=${DENO:-$root/node_modules/.bin/deno}
if [ "${DENO_SANDBOX:-}" != "1" ]; then
  exec "$deno" run --config "$root/deno.json" --allow-all "$root/core/main.ts" serve "$@"
fi
data=${GANTRY_DATA_DIR:-./data}
mkdir -p "$data"
data=$(cd "$data" && pwd)
plugins=${GANTRY_PLUGINS__DIR:-$root/plugins}
chromium=$(command -v chromium || echo /usr/bin/chromium)
# --allow-env whole: gantry finds its GANTRY_* settings by listing the environment, and /env lists it.
# --allow-ffi: the knowledge plugin loads sqlite-vec into SQLite; datasets loads DuckDB.
exec "$deno" run --config "$root/deno.json" \
  --allow-net --allow-env --allow-sys=hostname,statfs,systemMemoryInfo,loadavg,cpus,osRelease,osUptime --allow-ffi \
  --allow-read="$root,$data,/tmp${DENO_ALLOW_READ:+,$DENO_ALLOW_READ}" \
  --allow-write="$data,$plugins,/tmp${DENO_ALLOW_WRITE:+,$DENO_ALLOW_WRITE}" \
  --allow-run="$chromium${DENO_ALLOW_RUN:+,$DENO_ALLOW_RUN}" \
  "$root/core/main.ts" serve "$@"
