#!/usr/bin/env bash
# make bench-language: the language steps measured on the world corpus's test part, with the
# scene graphs as ground truth.
#   1. bench/caption: the shipped captioner's quality (background, species, objects, BLEU-4)
#      and speed on the corpus test part;
#   2. aspire caption on that test part, then bench/extract on the *generated* captions (the
#      scene graphs' captions replaced by the captioner's), and on the ground-truth captions;
#   3. the extractor's speed (bench/extract on synthetic captions).
# The last line is one JSON object with caption_bg_acc, caption_species_acc, caption_obj_f1,
# caption_bleu4, extract_bg_acc, extract_fg_f1, caption_img_s, extract_caption_s (and
# extract_label_in_fg: bird phrases the extractor left in a foreground, which should be 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/aspire
work=${ASPIRE_BENCH_DIR:-$(mktemp -d)}
corpus="$work/corpus"
if [ ! -f "$corpus/metadata.csv" ]; then
  echo "== the world corpus (seed 0) into $corpus" >&2
  "$bin" world corpus --out "$corpus" --quiet >&2
fi
echo "== captioner quality and speed (bench/caption)" >&2
cap_json=$(build/bench/caption --corpus "$corpus" | tail -n 1)
echo "$cap_json" >&2
echo "== captions of the test part (aspire caption --split test)" >&2
"$bin" caption --data "$corpus" --split test --out "$work/captions.csv" --quiet >&2
/usr/bin/python3 - "$corpus/scenes.jsonl" "$work/captions.csv" "$work/scenes_generated.jsonl" "$work/scenes_truth.jsonl" <<'PY'
import csv, json, sys
scenes, captions, out_gen, out_truth = sys.argv[1:5]
gen = {r["path"]: r["caption"] for r in csv.DictReader(open(captions))}
with open(out_gen, "w") as g, open(out_truth, "w") as t:
    for line in open(scenes):
        s = json.loads(line)
        if s.get("split") != 2:
            continue
        t.write(json.dumps(s) + "\n")
        if s["img_filename"] in gen:
            s["captions"] = [gen[s["img_filename"]]]
            g.write(json.dumps(s) + "\n")
PY
echo "== extractor on generated captions" >&2
ext_gen=$(build/bench/extract --scenes "$work/scenes_generated.jsonl" --repeats 3 | tail -n 1)
echo "$ext_gen" >&2
echo "== extractor on ground-truth captions" >&2
ext_truth=$(build/bench/extract --scenes "$work/scenes_truth.jsonl" --repeats 3 | tail -n 1)
echo "$ext_truth" >&2
/usr/bin/python3 - "$cap_json" "$ext_gen" "$ext_truth" <<'PY'
import json, sys
cap, gen, truth = (json.loads(a) for a in sys.argv[1:4])
out = {k: cap[k] for k in ("caption_bg_acc", "caption_species_acc", "caption_obj_f1", "caption_bleu4", "caption_img_s")}
out["extract_bg_acc"] = gen["bg_accuracy"]
out["extract_fg_f1"] = gen["fg_f1"]
out["extract_label_in_fg"] = gen["label_in_fg"]
out["extract_truth_bg_acc"] = truth["bg_accuracy"]
out["extract_truth_fg_f1"] = truth["fg_f1"]
out["extract_caption_s"] = gen["extract_caption_s"]
print(json.dumps(out))
PY
