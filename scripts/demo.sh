#!/usr/bin/env bash
# The main job, as far as it exists: builds are done by `make demo` before this runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/aspire
"$bin" version
if [ -x build/bench/engine ]; then
  echo "== engine benchmark (small run) =="
  build/bench/engine --iters 5 --warmup 1
fi
