#!/usr/bin/env bash
# bench-edit.sh — `make bench-edit`: the grounding and editing figures the detection stage depends on.
#   1. build/bench/segment on the edit corpus's test part (segmenter mIoU, recall, rejection, masks/s);
#   2. build/bench/edit on the same corpus and on a task dataset's test counterfactuals, with the
#      segmenter's masks (and the world's true masks as the comparison row), including the flip
#      agreement of an ERM classifier trained once on the task dataset (reused when its run exists);
#   3. one JSON line merging both (bench/segment's "threads" and "model" renamed seg_threads, seg_model).
# Everything runs with THREADS threads (default 1; run it under `flock /work/cpu-long.lock` on a
# shared machine). Data and the ERM run are made once under build/bench-data and reused.
set -euo pipefail
BUILD=${BUILD:-build}
CORPUS=${EDIT_CORPUS:-$BUILD/bench-data/edit-corpus}
TASK=${EDIT_TASK:-$BUILD/bench-data/edit-task}
RUN=${EDIT_RUN:-$BUILD/bench-data/edit-task-erm}
WORK=${EDIT_WORK:-$BUILD/bench-data/edit-work}
THREADS=${THREADS:-1}
SEGMENTER=${SEGMENTER:-}          # default: the shipped models/segmenter.safetensors
SHEET=${SHEET:-docs/edit-sheet.png}
FAILURES=${FAILURES:-docs/edit-failures.png}
PLATES=${PLATES:-1000}            # plates in each bank (the first training images with a background phrase)
EPOCHS=${EPOCHS:-8}               # epochs of the ERM classifier (aspire train's default)
export OMP_NUM_THREADS=$THREADS
ASPIRE=$BUILD/bin/aspire

[ -f "$CORPUS/metadata.csv" ] || $ASPIRE world corpus --out "$CORPUS" --pretrain 4000 --test 500 \
    --counterfactuals 500 --threads "$THREADS" --quiet
[ -f "$TASK/metadata.csv" ] || $ASPIRE world task --out "$TASK" --seed 0 --counterfactuals 400 \
    --threads "$THREADS" --quiet
if [ ! -f "$RUN/best.safetensors" ]; then
    echo "bench-edit: training the ERM classifier of the flip agreement (once): $RUN"
    $ASPIRE train --data "$TASK" --method erm --out "$RUN" --seed 0 --epochs "$EPOCHS" --threads "$THREADS" --quiet
fi
mkdir -p "$WORK"
log=$(mktemp -d "${TMPDIR:-/tmp}/aspire-bench-edit-XXXXXX")
trap 'rm -rf "$log"' EXIT

echo "== bench/segment (corpus test part: $CORPUS)"
$BUILD/bench/segment --corpus "$CORPUS" --threads "$THREADS" ${SEGMENTER:+--model "$SEGMENTER"} | tee "$log/segment"
echo "== bench/edit"
$BUILD/bench/edit --corpus "$CORPUS" --task "$TASK" --run "$RUN" --threads "$THREADS" --work "$WORK" \
    --plates "$PLATES" --sheet "$SHEET" --failures "$FAILURES" ${SEGMENTER:+--segmenter "$SEGMENTER"} | tee "$log/edit"

seg=$(tail -n 1 "$log/segment" | sed -e 's/"threads":/"seg_threads":/' -e 's/"model":/"seg_model":/')
edit=$(tail -n 1 "$log/edit")
case "$seg$edit" in
    \{*\}\{*\}) ;;
    *) echo "bench-edit: a bench did not end with a JSON object" >&2; exit 1 ;;
esac
echo "${edit%\}}, ${seg#\{}"
