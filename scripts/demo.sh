#!/usr/bin/env bash
# The main job (`make demo` installs and builds first): `aspire run` on the default benchmark world
# with ERM, then the before/after table and where the report is. Everything goes under demo-out/
# (override with ASPIRE_DEMO_OUT). Resumable like `aspire run` itself: run it again after an
# interruption and it continues from the last complete stage (the world dataset is built whole, so
# it is either there or redone). ASPIRE_DEMO_THREADS sets --threads (0 = all cores).
#
# Where a stage cannot do its work (e.g. detect selected no edited image), `aspire run` stops
# there with one line naming it; this script says so, prints what exists and still points at the
# report (which shows the stages complete so far).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/aspire
out=${ASPIRE_DEMO_OUT:-demo-out}
threads=${ASPIRE_DEMO_THREADS:-0}
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

"$bin" version || exit 1

step "1/3 the benchmark world (aspire world task)"
if [ ! -f "$out/world/metadata.csv" ]; then
  "$bin" world task --out "$out/world" --seed 0 --quiet || exit 1
  "$bin" world preview --out "$out/world-preview.png" --seed 0 || true
fi
echo "dataset: $out/world"

step "2/3 aspire run --methods erm (train-erm, detect, personalize, generate, retrain, evaluate, report)"
"$bin" run --data "$out/world" --out "$out/run" --methods erm --seed 0 --threads "$threads"
rc=$?
"$bin" status "$out/run"

step "3/3 before / after (test split)"
if [ -f "$out/run/evaluate/results.json" ] && grep -q '"complete"' "$out/run/evaluate/stage.json"; then
  echo "-- ERM alone:"
  "$bin" eval --run "$out/run/train-erm/run" --split test --threads "$threads" --quiet
  echo "-- ERM + ASPIRE's generated images:"
  "$bin" eval --run "$out/run/retrain/erm-aspire" --split test --threads "$threads" --quiet
elif [ -f "$out/run/train-erm/run/eval-test.json" ]; then
  echo "-- ERM alone (the 'after' column needs the stages that did not complete; see above):"
  "$bin" eval --run "$out/run/train-erm/run" --split test --threads "$threads" --quiet
fi

if [ "$rc" -ne 0 ]; then
  printf '\nThe pipeline stopped before its end (the line starting "aspire run: stage" above names the\n'
  printf 'stage and why); everything complete before it is kept. Run `make demo` again once that stage\n'
  printf 'can run: it continues from there.\n'
fi
printf '\nReport: %s/run/report.html\n' "$out"
exit 0
