#!/usr/bin/env bash
# The HTML report at scale (issue 27): a generated project with 10,000 findings, its report
# opened and filtered in headless Chromium. `bench/html/run.sh [BINARY] [RUNS]`.
# Needs chromium and `pip install websocket-client`; not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/prodready}
RUNS=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/html/generate.py "$work/project" 2500
"$BIN" audit "$work/project" --no-cache --quiet --format html --output "$work/report.html" || [ $? -le 1 ]
python3 bench/html/timing.py "$work/report.html" "$RUNS"
