#!/usr/bin/env bash
# The main job, as far as it exists (`make demo` builds first). Writes everything under demo-out/
# (override with ASPIRE_DEMO_OUT) and resumes: a step is skipped only when its completion marker
# says it finished, and an interrupted step is continued or redone:
#   world     metadata.csv, which `aspire world task` writes last
#   training  "result" in RUNDIR/train.json, which `aspire train` writes last; `--resume` continues
#             an interrupted run from its last checkpoint (best.safetensors exists after epoch 1,
#             so it is no marker)
#   captions, extraction  the output files, written atomically (they exist only when complete)
#   1. the benchmark world: a Waterbirds-like task dataset with known spurious features
#   2. ERM on it, evaluated per group (worst-group accuracy is the figure that matters)
#   3. captions of the validation images, with the built-in captioner
#   4. foreground / background / alternative background extracted from each caption
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/aspire
out=${ASPIRE_DEMO_OUT:-demo-out}
mkdir -p "$out"
have() { "$bin" help 2>/dev/null | grep -q "^  $1 "; }
# a finished training run: train.json holds its "result" (written last)
run_done() { [ -f "$1/train.json" ] && grep -q '"result"' "$1/train.json"; }
step() { printf '\n== %s\n' "$*"; }

"$bin" version

step "1/4 the benchmark world (aspire world task)"
if [ ! -f "$out/world/metadata.csv" ]; then
  "$bin" world task --out "$out/world" --seed 0
  "$bin" world preview --out "$out/world-preview.png" --seed 0 || true
fi
echo "dataset: $out/world (preview: $out/world-preview.png)"

if have train; then
  step "2/4 ERM classifier (aspire train --method erm), then per-group evaluation"
  run_done "$out/erm" || "$bin" train --data "$out/world" --method erm --out "$out/erm" --seed 0 --resume
  "$bin" eval --run "$out/erm" --split test
else
  echo "(aspire train is not built yet: skipping training)"
fi

if have caption && [ -f models/captioner.safetensors ]; then
  step "3/4 captions (aspire caption, built-in captioner)"
  [ -f "$out/captions.csv" ] || "$bin" caption --data "$out/world" --split val --out "$out/captions.csv"
  head -5 "$out/captions.csv"
  step "4/4 foreground / background extraction (aspire extract)"
  [ -f "$out/extracted.jsonl" ] || "$bin" extract --captions "$out/captions.csv" --data "$out/world" --out "$out/extracted.jsonl"
  head -3 "$out/extracted.jsonl"
else
  echo "(the captioner is not built yet: skipping captions and extraction)"
fi
printf '\nDone: outputs in %s/\n' "$out"
