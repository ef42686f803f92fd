#!/usr/bin/env bash
# Installs every Debian package aspire needs. Idempotent, and quiet when everything is present.
# Set ASPIRE_WITH_TORCH=1 to also install the PyTorch used by the comparison benchmarks.
# clang, libclang-rt-14-dev (libFuzzer) and libomp-14-dev (OpenMP for clang) build the fuzz
# targets (make fuzz); the 14 matches Debian 12's clang. chromium renders the run report in the
# test suite (report_browser, scripts/check-report.sh).
# `--run`: only what building and running aspire need (make demo), not the test tools (valgrind,
# clang and its fuzzing runtime, chromium), which take minutes more to install on a fresh machine.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libdnnl-dev libpng-dev libjpeg62-turbo-dev libstb-dev
      libfreetype-dev fonts-noto-color-emoji wordnet-dev wordnet-base libcjson-dev)
if [ "${1:-}" != --run ]; then pkgs+=(valgrind clang libclang-rt-14-dev libomp-14-dev chromium); fi
if [ "${ASPIRE_WITH_TORCH:-0}" = 1 ]; then pkgs+=(python3-torch python3-torchvision python3-pil python3-numpy); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
