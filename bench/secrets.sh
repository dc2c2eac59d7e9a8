#!/usr/bin/env bash
# Secret-scanning speed: `prodready audit --select SEC` against ripsecrets on the same tree,
# runs interleaved so that machine load affects both alike. Prints medians and the ratio.
#
# Usage: bench/secrets.sh [RUNS] [CORPUS]   (RUNS default 3; CORPUS as in bench/run.sh)
# ripsecrets is installed with `cargo install` into $RIPSECRETS_ROOT (default
# ~/.cache/prodready-bench/ripsecrets) on first use.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-3}
corpus=${2:-$(bash "$repo/../shared/bench-corpus/vendor.sh")}
root=${RIPSECRETS_ROOT:-$HOME/.cache/prodready-bench/ripsecrets}
if [ ! -x "$root/bin/ripsecrets" ]; then
    cargo install --quiet --locked --root "$root" ripsecrets
fi
(cd "$repo" && cargo build --release --quiet)
prodready="$repo/target/release/prodready"
ripsecrets="$root/bin/ripsecrets"

time_one() { # prints wall seconds of "$@", output discarded, any exit code accepted
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}

ours=(); theirs=()
for ((i = 1; i <= runs; i++)); do
    if ((i % 2)); then
        ours+=("$(time_one "$prodready" audit "$corpus" --select SEC --no-cache --format json --output /tmp/prodready-sec.json --quiet)")
        theirs+=("$(time_one "$ripsecrets" "$corpus")")
    else
        theirs+=("$(time_one "$ripsecrets" "$corpus")")
        ours+=("$(time_one "$prodready" audit "$corpus" --select SEC --no-cache --format json --output /tmp/prodready-sec.json --quiet)")
    fi
done
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()]
mo, mt = statistics.median(ours), statistics.median(theirs)
print(f"prodready --select SEC: median {mo:.2f} s  runs {ours}")
print(f"ripsecrets:             median {mt:.2f} s  runs {theirs}")
print(f"ripsecrets / prodready = {mt / mo:.1f}x")
PY
