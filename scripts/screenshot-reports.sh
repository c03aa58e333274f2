#!/usr/bin/env bash
# Looks at the demo's HTML reports as a person would: each page under demo/ is rendered by a
# headless browser (Debian's chromium: apt-get install chromium) into demo/screenshots/*.png, and
# a page that renders blank or tiny fails. Run after scripts/demo.sh; not part of the tests
# (a browser is a large install for CI).
set -euo pipefail
cd "$(dirname "$0")/.."
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "no headless browser: apt-get install chromium" >&2; exit 2; }
pages=(demo/*.html)
[ -e "${pages[0]}" ] || { echo "no demo/*.html: run bash scripts/demo.sh first" >&2; exit 2; }
mkdir -p demo/screenshots
status=0
for page in "${pages[@]}"; do
  png="demo/screenshots/$(basename "${page%.html}").png"
  rm -f "$png"
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1600 \
    --screenshot="$PWD/$png" "file://$PWD/$page" > /dev/null 2>&1 || true
  size=$(stat -c %s "$png" 2>/dev/null || echo 0)
  # A blank 1200x1600 page compresses to a few KB; text and charts make it far larger.
  if [ "$size" -lt 20000 ]; then
    echo "FAILED $page -> $png ($size bytes: blank or not rendered)"
    status=1
  else
    echo "ok     $page -> $png ($size bytes)"
  fi
done
exit $status
