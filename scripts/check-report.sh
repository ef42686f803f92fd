#!/usr/bin/env bash
# Renders an `aspire run` report in headless Chromium (Debian's `chromium`) and fails on a console
# error, a broken image or a blank page:  scripts/check-report.sh RUNDIR/report.html [SHOT.png]
# The screenshot goes to SHOT.png (default: beside the report, report.png). The test suite runs
# it (CTest test report_browser) on the report test_pipeline writes; install-deps installs Chromium.
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
# not blank: the top of the screenshot (600 rows: the title and the results table; decoding more
# in Python only costs time) has more than a handful of distinct colours and some share of pixels
# away from the page's background
if ! python3 - "$shot" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
i, idat = 8, b""
while i < len(d):
    n = struct.unpack(">I", d[i:i + 4])[0]; t = d[i + 4:i + 8]; body = d[i + 8:i + 8 + n]
    if t == b"IHDR": w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
    if t == b"IDAT": idat += body
    i += 12 + n
assert depth == 8 and ctype in (2, 6) and not interlace, "unexpected PNG format %d/%d/%d" % (depth, ctype, interlace)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows, k = bytearray(stride), [], 0
for y in range(min(h, 600)):
    f, line = raw[k], bytearray(raw[k + 1:k + 1 + stride]); k += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
px = [r[x:x + 3] for r in rows[::4] for x in range(0, stride, 4 * bpp)]
colours, bg = len(set(px)), max(set(px), key=px.count)
share = sum(p != bg for p in px) / len(px)
print("check-report: screenshot %dx%d, top %d rows: %d colours, %.1f %% away from the background" % (w, h, len(rows), colours, 100 * share))
sys.exit(0 if colours >= 50 and share >= 0.05 else 1)
PY
then echo "check-report: the screenshot looks blank"; fail=1; fi
[ $fail -eq 0 ] && echo "check-report: ok ($shot)"
exit $fail
