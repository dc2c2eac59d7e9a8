#!/usr/bin/env bash
# Benchmarks `prodready audit` on a large corpus of real Rust code against peers
# measured in the same run: the cost of merely reading the .rs files (cat floor)
# and, when available, a ripgrep keyword search. Runs are interleaved so machine
# load drift affects every command equally; report medians and ratios.
#
# Usage: bench/run.sh [RUNS] [CORPUS]
#   RUNS    timed runs per command (default 5)
#   CORPUS  directory to audit (default: output of ../shared/bench-corpus/vendor.sh)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "bench: RUNS must be a positive integer, got '$runs'" >&2
    exit 2
fi
if [ $# -ge 2 ]; then
    corpus=$2
else
    vendor="$repo/../shared/bench-corpus/vendor.sh"
    if [ ! -f "$vendor" ]; then
        echo "bench: no CORPUS given and $vendor not found" >&2
        exit 2
    fi
    corpus=$(bash "$vendor")
fi
if [ ! -d "$corpus" ]; then
    echo "bench: corpus '$corpus' is not a directory" >&2
    exit 2
fi
corpus=$(cd "$corpus" && pwd)

if ! command -v python3 >/dev/null 2>&1; then
    echo "bench: python3 is required" >&2
    exit 2
fi

# --- tools ---------------------------------------------------------------
apt_install() {
    # Best effort, quiet; only when running as root with apt-get available.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
            apt-get update -qq >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
        } || true
    fi
}

gnu_time=""
if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true >/dev/null 2>&1; then
    gnu_time=/usr/bin/time
else
    echo "bench: GNU time not found, trying apt-get install time" >&2
    apt_install time
    if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true >/dev/null 2>&1; then
        gnu_time=/usr/bin/time
    else
        echo "bench: GNU time unavailable; peak RSS will not be measured" >&2
    fi
fi

have_rg=0
if ! command -v rg >/dev/null 2>&1; then
    echo "bench: ripgrep not found, trying apt-get install ripgrep" >&2
    apt_install ripgrep
fi
if command -v rg >/dev/null 2>&1; then
    have_rg=1
else
    echo "bench: ripgrep unavailable; skipping the rg peer" >&2
fi

# --- build ---------------------------------------------------------------
echo "bench: building prodready (cargo build --release)" >&2
(cd "$repo" && cargo build --release --quiet)
prodready="$repo/target/release/prodready"
if [ ! -x "$prodready" ]; then
    echo "bench: $prodready was not built" >&2
    exit 2
fi

# --- commands ------------------------------------------------------------
out_json=/tmp/prodready-bench.json
work=$(mktemp -d "${TMPDIR:-/tmp}/prodready-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
samples="$work/samples.tsv"
: >"$samples"

names=("cat floor")
cmds=("find \"\$CORPUS\" -type f -name '*.rs' -print0 | xargs -0 cat > /dev/null")
if [ "$have_rg" = 1 ]; then
    names+=("ripgrep")
    cmds+=("rg -c --no-messages -i 'password|secret|token|retry|timeout' \"\$CORPUS\" > /dev/null || true")
fi
names+=("prodready")
cmds+=("\"\$PRODREADY\" audit \"\$CORPUS\" --format json --output \"\$OUT_JSON\" --quiet")
export CORPUS="$corpus" PRODREADY="$prodready" OUT_JSON="$out_json"

# Runs one command once; appends "name<TAB>wall<TAB>rss_kb" to the samples.
measure() {
    local name=$1 cmd=$2 rc=0 start end rss="" errf="$work/stderr"
    [ "$name" = prodready ] && rm -f "$out_json"
    start=$(date +%s.%N)
    if [ -n "$gnu_time" ]; then
        "$gnu_time" -f %M -o "$work/rss" bash -c "$cmd" 2>"$errf" || rc=$?
    else
        bash -c "$cmd" 2>"$errf" || rc=$?
    fi
    end=$(date +%s.%N)
    if [ -n "$gnu_time" ] && [ -s "$work/rss" ]; then
        # GNU time may prepend "Command exited with non-zero status N".
        rss=$(tail -n 1 "$work/rss")
    fi
    if [ "$name" = prodready ]; then
        case $rc in
            0 | 1 | 3) ;;
            *)
                echo "bench: FAILED: prodready exited with status $rc" >&2
                echo "bench: command: $cmd" >&2
                sed 's/^/  | /' "$errf" >&2
                exit 1
                ;;
        esac
        if [ ! -s "$out_json" ]; then
            echo "bench: FAILED: prodready exited $rc but wrote no $out_json" >&2
            sed 's/^/  | /' "$errf" >&2
            exit 1
        fi
        if [ -s "$errf" ]; then
            echo "bench: note: prodready wrote to stderr:" >&2
            head -n 20 "$errf" | sed 's/^/  | /' >&2
        fi
        echo "$rc" >"$work/prodready.rc"
    elif [ "$rc" != 0 ] && [ "$name" != ripgrep ]; then
        echo "bench: FAILED: '$name' exited with status $rc" >&2
        sed 's/^/  | /' "$errf" >&2
        exit 1
    fi
    printf '%s\t%s\t%s\n' "$name" "$(python3 -c "print(f'{$end - $start:.3f}')")" "$rss" >>"$samples"
}

echo "bench: corpus $corpus" >&2
echo "bench: warm-up (untimed): reading the corpus once" >&2
measure "warmup" "${cmds[0]}"
: >"$samples"

n=${#names[@]}
for ((run = 1; run <= runs; run++)); do
    # Rotate the order each run so no command always follows the same one.
    for ((k = 0; k < n; k++)); do
        i=$(((k + run - 1) % n))
        measure "${names[$i]}" "${cmds[$i]}"
    done
    echo "bench: run $run/$runs done" >&2
done

# --- report --------------------------------------------------------------
echo
echo "prodready benchmark: $runs run(s), interleaved; corpus $corpus"
echo "machine: $(nproc) CPU(s), $(uname -sr); prodready $("$prodready" --version 2>/dev/null || echo '?')"
echo "prodready exit status (last run): $(cat "$work/prodready.rc")"
echo
python3 - "$samples" "${names[@]}" <<'PY'
import statistics, sys
path, names = sys.argv[1], sys.argv[2:]
wall, rss = {n: [] for n in names}, {n: [] for n in names}
with open(path) as f:
    for line in f:
        name, w, r = line.rstrip("\n").split("\t")
        wall[name].append(float(w))
        if r.strip().isdigit():
            rss[name].append(int(r) / 1024)
rows = []
for n in names:
    med_rss = f"{statistics.median(rss[n]):.1f}" if rss[n] else "n/a"
    rows.append((n, f"{statistics.median(wall[n]):.3f}", f"{min(wall[n]):.3f}",
                 f"{max(wall[n]):.3f}", med_rss, str(len(wall[n]))))
head = ("command", "median s", "min s", "max s", "median peak RSS MB", "runs")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
print(fmt(head))
print("  ".join("-" * w for w in widths))
for r in rows:
    print(fmt(r))
print()
p = statistics.median(wall["prodready"])
for n in names:
    if n != "prodready":
        peer = statistics.median(wall[n])
        ratio = f"{p / peer:.1f}x" if peer > 0 else "n/a"
        print(f"prodready / {n} = {ratio}   (medians {p:.3f} s / {peer:.3f} s)")
print("\nper-run wall seconds:")
for n in names:
    print(f"  {n}: " + ", ".join(f"{w:.3f}" for w in wall[n]))
PY

echo
echo "prodready report ($out_json, last run):"
python3 - "$out_json" <<'PY'
import collections, json, sys
with open(sys.argv[1]) as f:
    report = json.load(f)
files = report.get("files", {})
print(f"  files scanned: {files.get('scanned')}")
print(f"  lines:         {files.get('lines')}")
findings = report.get("findings", [])
print(f"  findings:      {len(findings)}")
for code, count in sorted(collections.Counter(f.get("code") for f in findings).items(),
                          key=lambda kv: (-kv[1], str(kv[0]))):
    print(f"    {code}: {count}")
for key in ("not_parsed", "not_analysed"):
    items = files.get(key) or []
    print(f"  {key}: {len(items)}")
    for item in items[:20]:
        print(f"    {item.get('path')}: {item.get('reason')}")
    if len(items) > 20:
        print(f"    ... and {len(items) - 20} more")
PY
