#!/usr/bin/env bash
# `fleet merge` at scale (issue 28): 10,000 reports made from the two samples' JSON reports,
# with varied names, commit times and failing findings; median wall time and peak RSS of the
# merge over RUNS runs. `bench/fleet.sh [BINARY] [RUNS] [REPORTS]`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/prodready}
RUNS=${2:-5}
COUNT=${3:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for sample in pilot-service production-service; do
  "$BIN" audit "fixtures/$sample" --no-cache --quiet --format json --name "$sample" \
    --output "$work/$sample.json" || [ $? -le 1 ]
done
python3 - "$work" "$COUNT" <<'PY'
import json, os, random, sys
work, count = sys.argv[1], int(sys.argv[2])
samples = [json.load(open(f"{work}/{s}.json")) for s in ("pilot-service", "production-service")]
os.makedirs(f"{work}/reports")
rng = random.Random(7)
for i in range(count):
    report = json.loads(json.dumps(samples[i % 2]))
    report["name"] = f"acme/service-{i:05}"
    report["commit"] = {"id": f"{i:040x}", "time": 1_760_000_000 + i}
    findings = report["findings"]
    report["findings"] = [f for f in findings if rng.random() < 0.8]
    with open(f"{work}/reports/{i:05}.json", "w") as out:
        json.dump(report, out)
PY
size=$(du -sm "$work/reports" | cut -f1)
times=()
rss=()
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$work/time" "$BIN" fleet merge "$work/reports" --format json \
    --output "$work/merged.json"
  read -r t m < "$work/time"
  times+=("$t")
  rss+=("$m")
done
# The peer, in the same run: jq reading every report for its name and score (no merge at all).
peer=()
if command -v jq >/dev/null; then
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e" -o "$work/time" sh -c \
      'find "$1" -name "*.json" -print0 | xargs -0 jq -c "{name, score}" > /dev/null' _ "$work/reports"
    peer+=("$(cat "$work/time")")
  done
fi
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
t=$(median "${times[@]}")
m=$(median "${rss[@]}")
echo "fleet merge of $COUNT reports ($size MB), median of $RUNS: ${t} s, peak RSS $((m / 1024)) MB"
if [ ${#peer[@]} -gt 0 ]; then
  p=$(median "${peer[@]}")
  awk -v t="$t" -v p="$p" 'BEGIN { printf "peer: jq reading name and score of each report: %s s (merge / jq = %.2fx)\n", p, t / p }'
fi
awk -v t="$t" -v m="$m" 'BEGIN {
  print "target <= 10 s: " (t <= 10 ? "PASS" : "FAIL") "; target <= 500 MB: " (m / 1024 <= 500 ? "PASS" : "FAIL") }'
