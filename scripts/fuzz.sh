#!/usr/bin/env bash
# Runs every libFuzzer target of build-fuzz/fuzz/ for SECONDS seconds each, one after another, single-
# threaded, starting from the committed seeds in fuzz/corpus/<name>/ (which are all replayed first,
# so a committed crash reproducer fails the run). New inputs go to build-fuzz/corpus/<name>/ (not
# committed), a crashing input to build-fuzz/artifacts/. Prints one line per target and a last JSON
# line with the total executions; exits non-zero if any target found a crash, leak or timeout.
#   usage: scripts/fuzz.sh SECONDS [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; shift || true
bin=${FUZZ_BUILD:-build-fuzz}/fuzz
[ -d "$bin" ] || { echo "fuzz.sh: $bin missing (make fuzz-build)" >&2; exit 2; }
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$bin"/fuzz_*; do targets+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi
work=${FUZZ_BUILD:-build-fuzz}
mkdir -p "$work/artifacts" "$work/logs"
total=0; failed=()
for t in "${targets[@]}"; do
  seeds=fuzz/corpus/$t
  [ -d "$seeds" ] || { echo "fuzz.sh: no seed corpus $seeds" >&2; failed+=("$t"); continue; }
  mkdir -p "$work/corpus/$t"
  log=$work/logs/$t.log
  # -rss_limit_mb and -malloc_limit_mb: an input that makes a parser allocate more than 2 GB is a
  # finding (memory must be bounded by the input's declared sizes, themselves bounded by its length).
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/${t}-" \
    "$work/corpus/$t" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  runs=${runs:-0}
  total=$((total + runs))
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz $t: FAILED after $runs runs (exit $rc); log $log:" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -8 >&2
  else
    echo "fuzz $t: $runs runs in ${secs}s, no findings"
  fi
done
echo "{\"fuzz_seconds_per_target\": $secs, \"targets\": ${#targets[@]}, \"executions\": $total, \"failed\": ${#failed[@]}}"
[ ${#failed[@]} -eq 0 ]
