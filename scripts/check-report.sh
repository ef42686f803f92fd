#!/usr/bin/env bash
# Renders an `aspire run` report in headless Chromium (Debian's `chromium`) and fails on a console
# error, a broken image or a blank page:  scripts/check-report.sh RUNDIR/report.html [SHOT.png]
# The screenshot goes to SHOT.png (default: beside the report, report.png). Not part of `make
# test`: Chromium is a large install; test_pipeline checks the report's HTML without it.
set -euo pipefail
html=$(realpath "$1")
shot=${2:-$(dirname "$html")/report.png}
command -v chromium >/dev/null || { echo "check-report: chromium is not installed (apt-get install chromium)"; exit 2; }
tmp=$(mktemp -d /tmp/check-report-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags=(--headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" --virtual-time-budget=3000)
# the DOM after load, with a marker for every <img> that did not decode
timeout 120 chromium "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "file://$html" >"$tmp/dom.html" 2>"$tmp/console.log" || true
timeout 120 chromium "${flags[@]}" --window-size=1200,2400 --screenshot="$shot" "file://$html" >/dev/null 2>&1 || true
fail=0
if grep -E 'CONSOLE.*(Error|error)|Uncaught|Failed to load|ERR_FILE_NOT_FOUND|net::ERR' "$tmp/console.log"; then
  echo "check-report: console errors (above)"; fail=1
fi
# every image a data: URI holding a PNG that decodes (signature, IDAT inflates, IEND)
if ! python3 - "$html" <<'PY'
import base64, re, sys, zlib
html = open(sys.argv[1], encoding="utf-8").read()
bad = 0
for m in re.finditer(r'src="data:image/png;base64,([^"]*)"', html):
    try:
        d = base64.b64decode(m.group(1), validate=True)
        assert d[:8] == b"\x89PNG\r\n\x1a\n" and d.endswith(b"IEND\xaeB`\x82")
        i, idat = 8, b""
        while i < len(d):
            n = int.from_bytes(d[i:i + 4], "big"); t = d[i + 4:i + 8]
            if t == b"IDAT": idat += d[i + 8:i + 8 + n]
            i += 12 + n
        zlib.decompress(idat)
    except Exception as e:
        bad += 1
        print("check-report: broken image at offset", m.start(), e)
sys.exit(1 if bad else 0)
PY
then fail=1; fi
if grep -o '<img[^>]*src="[^d][^"]*"' "$tmp/dom.html"; then echo "check-report: image not inlined (above)"; fail=1; fi
[ -s "$shot" ] || { echo "check-report: no screenshot"; exit 1; }
# not blank: the screenshot has more than a handful of distinct colours
colours=$(python3 -c "
import struct,zlib,sys
d=open(sys.argv[1],'rb').read()
print(len(set(d[i:i+64] for i in range(0,len(d),64))))" "$shot")
if [ "$colours" -lt 50 ]; then echo "check-report: the screenshot looks blank"; fail=1; fi
[ $fail -eq 0 ] && echo "check-report: ok ($shot)"
exit $fail
