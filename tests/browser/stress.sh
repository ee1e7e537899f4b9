#!/usr/bin/env bash
# The browser tier under CPU load (issue 14): one CPU-burning process per core for the whole time,
# then the tier RUNS times in a row (default 3).  Exits non-zero if any run had a failure.
#   tests/browser/stress.sh [RUNS] [extra pytest arguments]      (make browser-stress)
set -u
cd "$(dirname "$0")/../.."
runs=${1:-3}
shift || true
cores=$(nproc)
burners=()
for _ in $(seq "$cores"); do
  ( while :; do :; done ) &
  burners+=("$!")
done
trap 'kill "${burners[@]}" 2>/dev/null' EXIT
echo "stress: $cores CPU burners (pids ${burners[*]}), $runs runs of tests/browser"
failed=0
for run in $(seq "$runs"); do
  started=$(date +%s)
  if .venv/bin/python -m pytest tests/browser -q -p no:cacheprovider "$@"; then
    result=passed
  else
    result=FAILED
    failed=$((failed + 1))
  fi
  echo "stress run $run/$runs: $result in $(( $(date +%s) - started )) s"
done
echo "stress: $failed of $runs runs failed"
[ "$failed" -eq 0 ]
