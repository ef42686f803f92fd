#!/usr/bin/env bash
# bench-aspire.sh — `make bench-aspire`: the proof that ASPIRE's images raise worst-group accuracy.
# `aspire run` on the default world (seed 0) once per training seed 0..SEEDS-1 with METHODS, each
# retrained with and without ASPIRE's generated images, plus the ablations (ERM with the same number
# of plain-prompt images, ERM with detect's selected edits alone, ERM with each generated image
# replaced by the selected edit it started from); then build/bench/aspire_table
# prints the table (mean ± spread over the seeds) and one JSON line last. Finished runs are reused
# and interrupted ones resume (aspire run's stages), so the bench continues where it stopped.
# Run it alone on the machine: PARALLEL seeds (default 2) run at once, each with THREADS threads
# (default 1: single-threaded processes side by side do not stall each other as OpenMP teams do on
# a busy machine).
set -euo pipefail
BUILD=${BUILD:-build}
DATA=${ASPIRE_BENCH_DATA:-$BUILD/bench-data/aspire}
SEEDS=${SEEDS:-3}
THREADS=${THREADS:-1}
PARALLEL=${PARALLEL:-2}           # seeds run at once (each with THREADS threads)
METHODS=${METHODS:-erm,jtt,dfr,groupdro}
STRENGTH=${STRENGTH:-}            # default: aspire run's
GUIDANCE=${GUIDANCE:-}            # default: aspire run's
ASPIRE=$BUILD/bin/aspire
export OMP_NUM_THREADS=$THREADS

W=$DATA/world
[ -f "$W/metadata.csv" ] || $ASPIRE world task --out "$W" --seed 0 --threads "$THREADS" --quiet
runs=()
one_seed() {
    local s=$1 run=$DATA/run-s$1
    echo "== bench-aspire: seed $s -> $run ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
    local rc=0
    /usr/bin/time -f "== bench-aspire: seed $s: %e s wall, %M KiB peak" $ASPIRE run --data "$W" --out "$run" \
        --methods "$METHODS" --seed "$s" --threads "$THREADS" --ablations ${STRENGTH:+--strength "$STRENGTH"} \
        ${GUIDANCE:+--guidance "$GUIDANCE"} \
        --quiet || rc=$?
    echo $rc > "$DATA/run-s$s.rc"
}
for s in $(seq 0 $((SEEDS - 1))); do
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
    one_seed "$s" &
    runs+=("$DATA/run-s$s")
done
wait
for s in $(seq 0 $((SEEDS - 1))); do
    [ "$(cat "$DATA/run-s$s.rc" 2>/dev/null)" = 0 ] || { echo "bench-aspire: seed $s's aspire run failed (its log above)" >&2; exit 1; }
done
echo "== bench-aspire: done $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
$BUILD/bench/aspire_table "${runs[@]}"
