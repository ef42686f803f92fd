#!/usr/bin/env bash
# bench-anchor.sh — ERM accuracy and speed against the PyTorch anchor on the same data with the same
# recipe (reference ResNet, PyTorch's layer-default initialisation, SGD lr 0.05 momentum 0.9 wd
# 1e-4, batch 64, cosine over EPOCHS epochs, flips, model selected by worst-class validation
# accuracy). For each seed it trains aspire (`aspire train --method erm --init pytorch`) and then
# the anchor (../shared/anchors/pytorch_erm_anchor.py), one after the other, so that both see the
# same machine load; prints every seed, then mean ± sd of test mean and worst-group accuracy for
# both and the median wall-time ratio (PyTorch minutes / aspire minutes: above 1, aspire is
# faster). The last line is one JSON object:
#   {"seeds": N, "epochs": E, "aspire": {"mean": …, "mean_sd": …, "worst": …, "worst_sd": …,
#    "minutes": …}, "pytorch": {…}, "speed_ratio": …}
# Finished aspire runs and anchor results in RUNS are reused, interrupted aspire runs continue
# (their minutes then come from another time: use a fresh RUNS for a same-run speed ratio).
#
# Environment: DATA (the dataset; made with `aspire world task` if missing), RUNS (run folders),
#   SEEDS (3), EPOCHS (8), THREADS (2), ASPIRE_SHARED (default ../shared beside the repository),
#   BUILD (build). Needs /usr/bin/python3 with torch (ASPIRE_WITH_TORCH=1 make deps).
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
build="$root/${BUILD:-build}"
shared="${ASPIRE_SHARED:-$root/../shared}"
anchor="$shared/anchors/pytorch_erm_anchor.py"
bin="$build/bin/aspire"
data="${DATA:-$build/bench-data/world-task}"
runs="${RUNS:-$build/bench-anchor-runs}"
seeds="${SEEDS:-3}" epochs="${EPOCHS:-8}" threads="${THREADS:-2}"
py=/usr/bin/python3

[ -x "$bin" ] || { echo "bench-anchor: $bin is missing (run make)" >&2; exit 1; }
[ -f "$anchor" ] || { echo "bench-anchor: $anchor is missing (set ASPIRE_SHARED)" >&2; exit 1; }
"$py" -c "import torch, PIL" 2>/dev/null ||
  { echo "bench-anchor: $py cannot import torch and PIL (ASPIRE_WITH_TORCH=1 make deps)" >&2; exit 1; }
if [ ! -f "$data/metadata.csv" ]; then
  echo "bench-anchor: making the default world dataset in $data" >&2
  "$bin" world task --out "$data" --quiet >&2
fi
mkdir -p "$runs"
echo "bench-anchor: $seeds seeds, $epochs epochs, $threads threads, data $data; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

for s in $(seq 0 $((seeds - 1))); do
  run="$runs/erm_seed$s"
  if ! grep -q '"result"' "$run/train.json" 2>/dev/null; then  # not finished: start, or continue an interrupted run
    "$bin" train --data "$data" --method erm --init pytorch --epochs "$epochs" --seed "$s" --threads "$threads" \
      --out "$run" --resume --quiet >&2
  fi
  "$bin" eval --run "$run" --split test --json > "$runs/aspire_seed$s.json"
  if [ ! -s "$runs/pytorch_seed$s.json" ]; then
    # the anchor's progress goes to a log beside its result, so that a failure can be read
    if ! "$py" "$anchor" "$data" --method erm --epochs "$epochs" --seed "$s" --threads "$threads" \
         2> "$runs/pytorch_seed$s.log" | tail -n 1 > "$runs/pytorch_seed$s.json.tmp"; then
      echo "bench-anchor: the PyTorch anchor failed for seed $s; see $runs/pytorch_seed$s.log" >&2
      exit 1
    fi
    mv "$runs/pytorch_seed$s.json.tmp" "$runs/pytorch_seed$s.json"
  fi
  "$py" - "$run/train.json" "$runs/aspire_seed$s.json" "$runs/pytorch_seed$s.json" "$s" <<'EOF' >&2
import json, sys
tr, a, t = (json.load(open(p)) for p in sys.argv[1:4])
print("  seed %s: aspire mean %.3f worst %.3f (%.1f min) | pytorch mean %.3f worst %.3f (%.1f min)"
      % (sys.argv[4], a["mean"], a["worst_group"], tr["result"]["minutes"], t["selected_test_mean"],
         t["selected_test_worst_group"], t["minutes"]))
EOF
done

"$py" - "$runs" "$seeds" "$epochs" <<'EOF'
import json, statistics as st, sys
runs, seeds, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
A = {"mean": [], "worst": [], "minutes": []}
T = {"mean": [], "worst": [], "minutes": []}
ratio = []
for s in range(seeds):
    a = json.load(open(f"{runs}/aspire_seed{s}.json"))
    tr = json.load(open(f"{runs}/erm_seed{s}/train.json"))
    t = json.load(open(f"{runs}/pytorch_seed{s}.json"))
    A["mean"].append(a["mean"]); A["worst"].append(a["worst_group"]); A["minutes"].append(tr["result"]["minutes"])
    T["mean"].append(t["selected_test_mean"]); T["worst"].append(t["selected_test_worst_group"])
    T["minutes"].append(t["minutes"])
    ratio.append(t["minutes"] / tr["result"]["minutes"])
def summ(d):
    sd = (lambda v: st.stdev(v) if len(v) > 1 else 0.0)
    return {"mean": round(st.mean(d["mean"]), 4), "mean_sd": round(sd(d["mean"]), 4),
            "worst": round(st.mean(d["worst"]), 4), "worst_sd": round(sd(d["worst"]), 4),
            "minutes": round(st.median(d["minutes"]), 2)}
out = {"seeds": seeds, "epochs": epochs, "aspire": summ(A), "pytorch": summ(T),
       "speed_ratio": round(st.median(ratio), 2)}
for k in ("aspire", "pytorch"):
    o = out[k]
    print(f"{k:8s} test mean {o['mean']:.3f} ± {o['mean_sd']:.3f}  worst-group {o['worst']:.3f} ± {o['worst_sd']:.3f}"
          f"  median {o['minutes']:.1f} min per run", file=sys.stderr)
print(f"speed: PyTorch minutes / aspire minutes, median over seeds: {out['speed_ratio']:.2f}", file=sys.stderr)
print(json.dumps(out))
EOF
