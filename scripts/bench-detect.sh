#!/usr/bin/env bash
# bench-detect.sh — `make bench-detect`: the discovery bench (docs/DETECT.md, "The discovery bench").
# For each world seed s in 0..SEEDS-1, and for OBJ_SEEDS object-only worlds:
#   1. the world task dataset:  aspire world task --out W --seed s --counterfactuals -1
#      (every image's counterfactual background is then named in W_truth/scenes.jsonl; the
#      dataset's images and metadata.csv do not depend on --counterfactuals);
#      the object-only world adds: --rho-bg 0.5 --spurious sailboat=1 --p-obj 1 --rho-obj 0.99;
#   2. ERM:     aspire train --data W --method erm --out R --seed s --epochs E --threads T --resume
#   3. detect:  aspire detect --data W --run R --out D --threads T   (resumable; its wall time is kept
#      in D.seconds the first time it runs to the end);
#   4. build/bench/detect scores every case against the world's oracle and prints the table and,
#      last, one JSON line.
# Finished steps are reused: the cache is build/bench-data/detect/{seedS,objonlyS}/{W,W_truth,R,D}
# (R-eE, D-eE for a non-default epoch count; D-vV-sS for detect's --votes V --seam S other than 3, 0;
# D…-aimage for --alternatives image, D…-mN for --min-occurrences N). ERM and detect are the long steps: with LOCK set (e.g.
# LOCK=/work/cpu-long.lock) each runs under `flock $LOCK`, so that they queue behind other long jobs.
#
#   scripts/bench-detect.sh [--seeds N] [--obj-seeds N] [--epochs E] [--threads T] [--prepare]
#                           [--votes V] [--seam S] [--alternatives class|image] [--min-occurrences N]
#                           [--pairs FILE.csv]
#   environment: BUILD (build), CACHE (BUILD/bench-data/detect), LOCK (none)
# --prepare makes the data, runs and detections and stops before scoring; --votes, --seam,
# --alternatives and --min-occurrences are passed to aspire detect; --pairs writes each hold-out image's first background pair (detect's flip, the
# oracle's, the scene on detect's alternative) as CSV.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
build="$root/${BUILD:-build}"
cache="${CACHE:-$build/bench-data/detect}"
bin="$build/bin/aspire"
seeds=5 obj_seeds=1 epochs=8 threads=1 prepare=0 votes=3 seam=0 alternatives=class min_occ=5 pairs=""   # aspire detect's defaults
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --obj-seeds) obj_seeds="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --prepare) prepare=1; shift ;;
        --votes) votes="$2"; shift 2 ;;
        --seam) seam="$2"; shift 2 ;;
        --alternatives) alternatives="$2"; shift 2 ;;
        --min-occurrences) min_occ="$2"; shift 2 ;;
        --pairs) pairs="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-detect: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "bench-detect: $bin is missing (run make build)" >&2; exit 1; }
[ "$prepare" = 1 ] || [ -x "$build/bench/detect" ] ||
    { echo "bench-detect: $build/bench/detect is missing (run make build)" >&2; exit 1; }
export OMP_NUM_THREADS=$threads
long() { if [ -n "${LOCK:-}" ]; then flock "$LOCK" "$@"; else "$@"; fi; }
suffix=""; [ "$epochs" = 8 ] || suffix="-e$epochs"
dsuffix="$suffix"; [ "$votes" = 3 ] && [ "$seam" = 0 ] || dsuffix="$suffix-v$votes-s$seam"
[ "$alternatives" = class ] || dsuffix="$dsuffix-a$alternatives"
[ "$min_occ" = 5 ] || dsuffix="$dsuffix-m$min_occ"
objonly_opts=(--rho-bg 0.5 --spurious sailboat=1 --p-obj 1 --rho-obj 0.99)

# prepare FLAG NAME SEED [world options...]: world, ERM run and detection of one case, each reused when done.
prepare() {
    local flag="$1" name="$2" seed="$3"; shift 3
    local dir="$cache/$name" w="$cache/$name/W" r="$cache/$name/R$suffix" d="$cache/$name/D$dsuffix"
    mkdir -p "$dir"
    if [ ! -f "$w/metadata.csv" ]; then
        echo "bench-detect: $name: world task (seed $seed $*)" >&2
        "$bin" world task --out "$w" --seed "$seed" --counterfactuals -1 --threads "$threads" --quiet "$@" >&2
    fi
    if ! grep -q '"result"' "$r/train.json" 2>/dev/null; then
        echo "bench-detect: $name: ERM, $epochs epochs, $threads thread(s) ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        long "$bin" train --data "$w" --method erm --out "$r" --seed "$seed" --epochs "$epochs" --threads "$threads" \
            --resume --quiet >&2
    fi
    if [ ! -f "$d/detect.done" ]; then
        echo "bench-detect: $name: detect ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        local fresh=0
        [ -e "$d" ] || fresh=1
        # timed inside the lock (not the wait for it); a resumed detection's time would not be the
        # whole run's, so D.seconds ("wall_s load_at_start") is kept only for a run from scratch
        long bash -c 't0=$(date +%s.%N); l=$(cut -d" " -f1 /proc/loadavg); "$@" || exit;
                      echo "$t0 $(date +%s.%N) $l" | awk "{printf \"%.1f %s\\n\", \$2 - \$1, \$3}" >"$0.wall"' \
            "$d" "$bin" detect --data "$w" --run "$r" --out "$d" --threads "$threads" --votes "$votes" --seam "$seam" --alternatives "$alternatives" --min-occurrences "$min_occ" >"$d.log" 2>&1 ||
            { tail -n 5 "$d.log" >&2; exit 1; }
        if [ "$fresh" = 1 ]; then mv "$d.wall" "$d.seconds"; else rm -f "$d.wall"; fi
    fi
    cases+=("$flag" "$name,$w,$r,$d")
}

cases=()
echo "bench-detect: $seeds seed(s) + $obj_seeds object-only world(s), $epochs epochs, $threads thread(s); load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for s in $(seq 0 $((seeds - 1))); do prepare --case "seed$s" "$s"; done
for s in $(seq 0 $((obj_seeds - 1))); do prepare --obj-case "objonly$s" "$s" "${objonly_opts[@]}"; done
[ "$prepare" = 1 ] && exit 0
long "$build/bench/detect" --threads "$threads" ${pairs:+--pairs "$pairs"} "${cases[@]}"
