#!/usr/bin/env bash
# npm run test:stress: the flake check. Runs the test suite RUNS times (default 3) while a CPU hog keeps
# every core busy, prints each run's pass/fail counts and failed tests, then every test that failed in
# any run. Exits 0 only when no run had a failure.
#
#   RUNS=3            how many times the suite runs
#   TEST_FILES="..."  only these test files or folders (default: the whole suite)
#   HOGS=N            busy processes to start (default: one per core, from nproc)
#   SKIP_PRETEST=1    do not run `npm run pretest` first (it installs the browser and tools the suite needs)
#   STRESS_LOG_DIR    where each run's full output is kept (default: a new folder under $TMPDIR)
#   GANTRY_TEST_PG_URL  as for npm test: the PostgreSQL leg
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
HOGS="${HOGS:-$(nproc)}"
LOG_DIR="${STRESS_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gantry-stress-XXXXXX")}"
mkdir -p "$LOG_DIR"
BUN="node_modules/.bin/bun"
[[ -x "$BUN" ]] || BUN="bun"
# The same runner and options as `npm test` (package.json), so the stress runs test what CI runs.
read -r -a TEST_COMMAND <<<"$(node -e 'process.stdout.write(require("./package.json").scripts.test)')"
[[ "${TEST_COMMAND[0]}" == "bun" ]] && TEST_COMMAND[0]="$BUN"
read -r -a FILES <<<"${TEST_FILES:-}"

if [[ "${SKIP_PRETEST:-}" != "1" ]]; then
  npm run --silent pretest
fi

hogs=()
stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null || true; done
  hogs=()
}
trap stop_hogs EXIT INT TERM

if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$HOGS" --quiet &
  hogs+=("$!")
  echo "CPU hog: stress-ng --cpu $HOGS (pid ${hogs[*]})"
else
  for _ in $(seq "$HOGS"); do
    sh -c 'while :; do :; done' &
    hogs+=("$!")
  done
  echo "CPU hog: $HOGS busy loops (pids ${hogs[*]})"
fi

# Prints "<file> > <test name>" for every failed test of a bun test log (bun names the file in a
# header line before its results, and prints each failure as "(fail) <describe> > <test> [ms]").
failed_tests() {
  awk '
    /^[^ (].*\.test\.(ts|tsx|js):$/ { file = substr($0, 1, length($0) - 1); next }
    /^\(fail\) / { name = substr($0, 8); sub(/ \[[0-9.]+m?s\]$/, "", name); print (file ? file " > " : "") name }
  ' "$1"
}

count() { # the number before " <word>" on bun's closing lines (" 12 pass", " 0 fail")
  grep -E "^ *[0-9]+ $2\$" "$1" | tail -1 | tr -dc '0-9' || true
}

all_failures="$LOG_DIR/all-failures.txt"
: >"$all_failures"
summary=()
for run in $(seq "$RUNS"); do
  log="$LOG_DIR/run-$run.log"
  echo "== run $run of $RUNS: ${TEST_COMMAND[*]} ${FILES[*]:-} (log: $log)"
  started=$(date +%s)
  status=0
  "${TEST_COMMAND[@]}" "${FILES[@]}" >"$log" 2>&1 || status=$?
  seconds=$(($(date +%s) - started))
  passed=$(count "$log" pass)
  failed=$(count "$log" fail)
  failed_tests "$log" | sort -u >"$LOG_DIR/run-$run-failures.txt"
  [[ -n "$passed" ]] || echo "   (no closing counts: the runner exited $status; see the log)"
  summary+=("run $run: ${passed:-?} pass, ${failed:-?} fail, exit $status, ${seconds} s")
  echo "   ${summary[-1]}"
  sed 's/^/   failed: /' "$LOG_DIR/run-$run-failures.txt"
  sed "s/^/run $run: /" "$LOG_DIR/run-$run-failures.txt" >>"$all_failures"
  # A runner that ended badly without naming a failed test (a crash, an error between tests) counts too.
  if [[ -z "$passed" || ("$status" != 0 && ! -s "$LOG_DIR/run-$run-failures.txt") ]]; then
    echo "run $run: the runner exited $status" >>"$all_failures"
  fi
done
stop_hogs

echo
echo "== summary ($RUNS runs under $HOGS busy processes; logs in $LOG_DIR)"
printf '%s\n' "${summary[@]}"
if [[ -s "$all_failures" ]]; then
  echo "failed in any run (runs that failed it):"
  sed -E 's/^run ([0-9]+): (.*)$/\2\t\1/' "$all_failures" | sort | awk -F'\t' '
    { runs[$1] = ($1 in runs) ? runs[$1] ", " $2 : $2 }
    END { for (name in runs) print "  " name "  [run " runs[name] "]" }' | sort
  exit 1
fi
echo "no failures in $RUNS runs"
