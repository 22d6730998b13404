#!/usr/bin/env bash
# The conformance suite: gantry against a real llama.cpp llama-server (GANTRY_LLAMA_SERVER).
# Its files end in .conformance.ts, so plain `npm test` never picks them up.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${GANTRY_LLAMA_SERVER:-}" ]; then
  echo "GANTRY_LLAMA_SERVER is not set: the conformance suite runs gantry against a real llama.cpp llama-server." >&2
  echo "Build or download llama-server (https://github.com/ggml-org/llama.cpp) and run:" >&2
  echo "  GANTRY_LLAMA_SERVER=/path/to/llama-server npm run test:conformance" >&2
  exit 2
fi
if [ ! -x "$GANTRY_LLAMA_SERVER" ]; then
  echo "GANTRY_LLAMA_SERVER=$GANTRY_LLAMA_SERVER is not an executable file" >&2
  exit 2
fi
echo "conformance: llama-server at $GANTRY_LLAMA_SERVER"
files=()
for f in test/conformance/*.conformance.ts; do files+=("./$f"); done
exec bun test --timeout 60000 "$@" "${files[@]}"
