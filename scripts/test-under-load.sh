#!/usr/bin/env bash
# Runs the whole `npm test` N times (default 3) while a CPU hog keeps every core
# busy: one busy-loop process per core, started before each run and stopped after
# it. Prints passed/failed and wall time per run; exits non-zero if any run failed.
#   bash scripts/test-under-load.sh [runs] [-- extra vitest args]
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${1:-3}"
shift || true
[ "${1:-}" = "--" ] && shift
cores="$(nproc)"
hogs=()

stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null; done
  hogs=()
}
trap stop_hogs EXIT INT TERM

results_dir="$(mktemp -d)"
failed_runs=0
summary=()
for run in $(seq 1 "$runs"); do
  for _ in $(seq 1 "$cores"); do
    # A pure busy loop at normal priority: the tests compete for every core.
    sh -c 'while :; do :; done' &
    hogs+=("$!")
  done
  results="$results_dir/run-$run.json"
  start=$(date +%s)
  npx vitest run --reporter=default --reporter=json --outputFile="$results" "$@"
  status=$?
  wall=$(( $(date +%s) - start ))
  stop_hogs
  counts=$(node -e '
    const fs = require("fs");
    try {
      const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
    } catch { console.log("no results"); }
  ' "$results")
  [ "$status" -ne 0 ] && failed_runs=$((failed_runs + 1))
  summary+=("run $run/$runs under $cores busy loops: $counts, exit $status, wall ${wall}s")
  echo "${summary[-1]}"
done

echo "---- test-under-load: $runs runs, $cores hog(s) per run"
printf '%s\n' "${summary[@]}"
rm -rf "$results_dir"
[ "$failed_runs" -eq 0 ]
