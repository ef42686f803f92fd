#!/usr/bin/env bash
# bench-engine.sh — the engine against PyTorch on the reference network (DESIGN.md §3), measured
# in one run: ROUNDS rounds (default 5), each running bench/engine and then the PyTorch anchor
# (../shared/anchors/pytorch_resnet_bench.py, same network, batch, size and threads), so that both
# see the same machine load. Prints every round and the median ratios aspire/PyTorch; the last line
# is one JSON object:
#   {"train_ratio": …, "infer_ratio": …, "train_img_s": …, "infer_img_s": …,
#    "pytorch_train_img_s": …, "pytorch_infer_img_s": …, "peak_rss_mib": …}
# (medians over the rounds; peak_rss_mib is the largest seen).
#
# Environment: ROUNDS (5), ITERS (20), THREADS (2), BATCH (64), SIZE (64),
#              ASPIRE_SHARED (the shared folder; default ../shared beside the repository),
#              BUILD (build). Needs /usr/bin/python3 with torch (ASPIRE_WITH_TORCH=1 make deps).
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
shared="${ASPIRE_SHARED:-$root/../shared}"
anchor="$shared/anchors/pytorch_resnet_bench.py"
bench="$root/${BUILD:-build}/bench/engine"
rounds="${ROUNDS:-5}" iters="${ITERS:-20}" threads="${THREADS:-2}" batch="${BATCH:-64}" size="${SIZE:-64}"
py=/usr/bin/python3

[ -x "$bench" ] || { echo "bench-engine: $bench is missing (run make)" >&2; exit 1; }
[ -f "$anchor" ] || { echo "bench-engine: $anchor is missing (set ASPIRE_SHARED)" >&2; exit 1; }
"$py" -c "import torch" 2>/dev/null || { echo "bench-engine: $py cannot import torch (ASPIRE_WITH_TORCH=1 make deps)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "bench-engine: $rounds rounds; aspire: $bench; PyTorch: $anchor" >&2
echo "  threads $threads, batch $batch, ${size}x${size}, $iters iterations each; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq 1 "$rounds"); do
  "$bench" --iters "$iters" --threads "$threads" --batch "$batch" --size "$size" > "$tmp/aspire.$r"
  "$py" "$anchor" --threads "$threads" --batch "$batch" --size "$size" --widths 16,32,64,128 --blocks 2 \
        --classes 2 --iters "$iters" > "$tmp/torch.$r"
  "$py" - "$tmp/aspire.$r" "$tmp/torch.$r" "$r" <<'EOF' >&2
import json, sys
a = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
t = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print("  round %s: aspire train %7.1f infer %7.1f img/s | pytorch train %7.1f infer %7.1f img/s | ratio %.2f / %.2f"
      % (sys.argv[3], a["train_img_s"], a["infer_img_s"], t["train_img_per_s"], t["infer_img_per_s"],
         a["train_img_s"] / t["train_img_per_s"], a["infer_img_s"] / t["infer_img_per_s"]))
EOF
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$py" - "$tmp" "$rounds" <<'EOF'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
last = lambda p: json.loads(open(p).read().strip().splitlines()[-1])
A = [last("%s/aspire.%d" % (d, r)) for r in range(1, n + 1)]
T = [last("%s/torch.%d" % (d, r)) for r in range(1, n + 1)]
med = statistics.median
tr = [a["train_img_s"] / t["train_img_per_s"] for a, t in zip(A, T)]
ir = [a["infer_img_s"] / t["infer_img_per_s"] for a, t in zip(A, T)]
print("median ratio aspire/PyTorch: training %.2f (rounds %s), inference %.2f (rounds %s)"
      % (med(tr), " ".join("%.2f" % x for x in tr), med(ir), " ".join("%.2f" % x for x in ir)))
print("aspire: %.1f GFLOP/s training, %.1f GFLOP/s inference (median; %.0f%% / %.0f%% of %.0f GFLOP/s)"
      % (med(a["train_gflops"] for a in A), med(a["infer_gflops"] for a in A),
         100 * med(a["train_peak_frac"] for a in A), 100 * med(a["infer_peak_frac"] for a in A), A[0]["peak_gflops"]))
print(json.dumps({
    "train_ratio": round(med(tr), 3), "infer_ratio": round(med(ir), 3),
    "train_img_s": round(med(a["train_img_s"] for a in A), 1), "infer_img_s": round(med(a["infer_img_s"] for a in A), 1),
    "pytorch_train_img_s": round(med(t["train_img_per_s"] for t in T), 1),
    "pytorch_infer_img_s": round(med(t["infer_img_per_s"] for t in T), 1),
    "peak_rss_mib": round(max(a["peak_rss_mib"] for a in A), 1)}))
EOF
