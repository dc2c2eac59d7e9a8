#!/usr/bin/env bash
# Regenerates docs/report.png, the pilot sample's HTML report as the README shows it:
# the top of the page in the light theme. Needs chromium and `pip install websocket-client`.
set -euo pipefail
cd "$(dirname "$0")/.."
page=$(mktemp --suffix=.html)
trap 'rm -f "$page"' EXIT
cargo run --release --quiet -- audit fixtures/pilot-service --no-cache --format html --output "$page" --quiet || [ $? -le 1 ]
python3 - "$page" <<'PY'
import sys
sys.path.insert(0, "bench/html")
from cdp import Browser
browser = Browser(width=1200, height=1500)
browser.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
browser.open("file://" + sys.argv[1])
browser.screenshot("docs/report.png")
browser.close()
PY
echo "wrote docs/report.png"
