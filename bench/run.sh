#!/usr/bin/env bash
# Speed of `prodready audit` at repository scale, against peers measured in the same run, with
# runs interleaved so that machine load drift affects every command alike. See bench/README.md.
#
# Usage: bench/run.sh [RUNS] [CORPUS]
#   RUNS    timed runs per command (default 5)
#   CORPUS  directory to audit (default: output of ../shared/bench-corpus/vendor.sh, which
#           vendors the pinned corpus if it is not there yet)
# Environment: THREADS (default: nproc) is the thread count of the main rows; BENCH_SCALING=0
# skips the scaling rows (1/4, 1/2 of the corpus, one thread); BENCH_RIPSECRETS=0 skips ripsecrets
# on the whole corpus (by far the slowest row: minutes per run), not on the 28 MB subset;
# BENCH_WORKSPACES=0 skips the workspace rows (the subset, generated workspaces of 10, 40 and 160
# members); BENCH_FIELD=DIR adds a row per service workspace in DIR (the field set's trees, as
# bench/field/materialise.py writes them).
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
    echo "bench: materialising the corpus with $vendor (once)" >&2
    corpus=$(bash "$vendor")
fi
if [ ! -d "$corpus" ]; then
    echo "bench: corpus '$corpus' is not a directory" >&2
    exit 2
fi
corpus=$(cd "$corpus" && pwd)
threads=${THREADS:-$(nproc)}
scaling=${BENCH_SCALING:-1}
workspaces=${BENCH_WORKSPACES:-1}
field=${BENCH_FIELD:-}
if [ -n "$field" ] && [ ! -d "$field" ]; then
    echo "bench: BENCH_FIELD '$field' is not a directory" >&2
    exit 2
fi

for tool in python3 cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench: $tool is required" >&2
        exit 2
    fi
done

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
if [ -x /usr/bin/time ] && /usr/bin/time -v -o /dev/null true >/dev/null 2>&1; then
    gnu_time=/usr/bin/time
else
    echo "bench: GNU time not found, trying apt-get install time" >&2
    apt_install time
    if [ -x /usr/bin/time ] && /usr/bin/time -v -o /dev/null true >/dev/null 2>&1; then
        gnu_time=/usr/bin/time
    else
        echo "bench: GNU time unavailable; peak RSS will not be measured" >&2
    fi
fi

# ripsecrets: installed with `cargo install --locked` into $RIPSECRETS_ROOT (as bench/secrets.sh).
rs_root=${RIPSECRETS_ROOT:-$HOME/.cache/prodready-bench/ripsecrets}
ripsecrets=""
if [ "${BENCH_RIPSECRETS:-1}" = 0 ] && [ "$workspaces" = 0 ]; then
    echo "bench: BENCH_RIPSECRETS=0 BENCH_WORKSPACES=0: skipping the ripsecrets peer" >&2
elif command -v ripsecrets >/dev/null 2>&1; then
    ripsecrets=$(command -v ripsecrets)
elif [ -x "$rs_root/bin/ripsecrets" ]; then
    ripsecrets="$rs_root/bin/ripsecrets"
else
    echo "bench: installing ripsecrets (cargo install --locked --root $rs_root)" >&2
    if cargo install --quiet --locked --root "$rs_root" ripsecrets >&2; then
        ripsecrets="$rs_root/bin/ripsecrets"
    else
        echo "bench: ripsecrets could not be installed; skipping that peer" >&2
    fi
fi

# --- build ---------------------------------------------------------------
echo "bench: building prodready (cargo build --release --locked)" >&2
(cd "$repo" && cargo build --release --locked --quiet)
prodready="$repo/target/release/prodready"
echo "bench: building the syn-parse reference (bench/syn-parse, cargo build --release --locked)" >&2
(cd "$repo/bench/syn-parse" && cargo build --release --locked --quiet)
synparse="$repo/bench/syn-parse/target/release/syn-parse"
for bin in "$prodready" "$synparse"; do
    if [ ! -x "$bin" ]; then
        echo "bench: $bin was not built" >&2
        exit 2
    fi
done
has_cache=0
if "$prodready" audit --help 2>/dev/null | grep -q -- '--cache-dir'; then
    has_cache=1
else
    echo "bench: this prodready has no --cache-dir; skipping the cache rows" >&2
fi

# --- trees ---------------------------------------------------------------
# Every command reads the same tree: a hard-linked mirror of the corpus (no copy of the bytes),
# in which the warm-cache row replaces one file by an edited copy (never touching the corpus).
work=$(mktemp -d "${TMPDIR:-/tmp}/prodready-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mirror() { # mirror SRC DEST [KEEP_EVERY_NTH_TOP_LEVEL_ENTRY]
    local src=$1 dest=$2 nth=${3:-1} i=0 entry
    mkdir -p "$dest"
    for entry in "$src"/* "$src"/.[!.]*; do
        [ -e "$entry" ] || continue
        if ((i % nth == 0)); then
            cp -al "$entry" "$dest/" 2>/dev/null || cp -a "$entry" "$dest/"
        fi
        i=$((i + 1))
    done
}
echo "bench: mirroring the corpus (hard links) into $work" >&2
tree="$work/tree"
mirror "$corpus" "$tree"
if [ "$scaling" = 1 ]; then
    mirror "$corpus" "$work/quarter" 4
    mirror "$corpus" "$work/half" 2
fi
# name<TAB>tree of every row that does not read the corpus mirror, for the report.
row_trees="$work/row-trees.tsv"
: >"$row_trees"
if [ "$workspaces" = 1 ]; then
    echo "bench: the 28 MB subset (bench/subset.sh) and generated workspaces (bench/gen-workspace.py)" >&2
    bash "$repo/bench/subset.sh" "$corpus" "$work/subset" >/dev/null
    for n in 10 40 160; do
        python3 "$repo/bench/gen-workspace.py" "$n" "$work/ws$n"
    done
fi
# The file the warm-cache row edits: the largest .rs file under 1 MiB (a larger one could pass
# max_file_size and be skipped, which would measure nothing), the name sorting first on a tie.
edited=$(cd "$tree" && find . -type f -name '*.rs' -size -1024k -printf '%s %p\n' | sort -k1,1nr -k2 | sed -n 1p | cut -d' ' -f2-)
edited="$tree/${edited#./}"
edited_orig="$work/edited.orig"
cp "$edited" "$edited_orig"
edit_one_file() { # a new inode with one line more: the hard link to the corpus is left alone
    cat "$edited_orig" >"$edited.new"
    printf '\n// bench edit %s\n' "$(date +%s%N)" >>"$edited.new"
    mv -f "$edited.new" "$edited"
}

out="$work/out"
mkdir -p "$out"
samples="$work/samples.tsv"
: >"$samples"
export PRODREADY="$prodready" SYNPARSE="$synparse" RIPSECRETS="$ripsecrets" TREE="$tree" \
    WORK="$work" OUT="$out" THREADS="$threads"
if [ "$has_cache" = 1 ]; then
    nocache=--no-cache
else
    nocache=""
fi
audit() { # audit ROOT OUTPUT [ARGS...] -> a command line
    local root=$1 output=$2
    shift 2
    echo "\"\$PRODREADY\" audit \"$root\" --format json --output \"$output\" --quiet $*"
}

names=() cmds=()
add() { names+=("$1"); cmds+=("$2"); }
# A cold audit: an empty cache directory of its own (NAME), filled by the run (the cost of a
# first run). Every cold row does the same work, so that the thread and size rows compare with
# the main one on threads or size alone.
cold() { # cold NAME ROOT OUTPUT [ARGS...] -> a command line
    local name=$1
    shift
    if [ "$has_cache" = 1 ]; then
        echo "rm -rf \"\$WORK/$name\" && $(audit "$@" --cache-dir "\$WORK/$name")"
    else
        audit "$@"
    fi
}
add "cat floor" "find \"\$TREE\" -type f -name '*.rs' -print0 | xargs -0 cat > /dev/null"
add "audit" "$(cold cache-cold '$TREE' '$OUT/audit.json' --threads '$THREADS')"
add "syn-parse all" "\"\$SYNPARSE\" \"\$TREE\" \"\$THREADS\" > \"\$OUT/syn-parse.txt\""
if [ -n "$ripsecrets" ] && [ "${BENCH_RIPSECRETS:-1}" != 0 ]; then
    add "ripsecrets" "\"\$RIPSECRETS\" \"\$TREE\" > /dev/null"
fi
if [ "$workspaces" = 1 ]; then
    add "audit subset" "$(cold cache-subset '$WORK/subset' '$OUT/subset.json' --threads '$THREADS')"
    add "audit subset --select SEC" \
        "$(cold cache-subset-sec '$WORK/subset' '$OUT/subset-sec.json' --threads '$THREADS' --select SEC)"
    printf 'audit subset\t%s\naudit subset --select SEC\t%s\n' "$work/subset" "$work/subset" >>"$row_trees"
    if [ -n "$ripsecrets" ]; then
        add "ripsecrets subset" "\"\$RIPSECRETS\" \"\$WORK/subset\" > /dev/null"
        printf 'ripsecrets subset\t%s\n' "$work/subset" >>"$row_trees"
    fi
    for n in 10 40 160; do
        add "audit workspace N=$n" "$(cold "cache-ws$n" "\$WORK/ws$n" "\$OUT/ws$n.json" --threads '$THREADS')"
        printf 'audit workspace N=%s\t%s\n' "$n" "$work/ws$n" >>"$row_trees"
    done
fi
if [ -n "$field" ]; then
    for dir in "$field"/*/; do
        [ -f "$dir/Cargo.toml" ] || continue
        name=$(basename "$dir")
        add "audit field $name" "$(cold "cache-field-$name" "$dir" "\$OUT/field-$name.json" --threads '$THREADS')"
        printf 'audit field %s\t%s\n' "$name" "$dir" >>"$row_trees"
    done
fi
if [ "$has_cache" = 1 ]; then
    add "audit warm, 1 file changed" "$(audit '$TREE' '$OUT/warm.json' --threads '$THREADS' --cache-dir '$WORK/cache-warm')"
fi
if [ "$scaling" = 1 ]; then
    add "audit 1/4 corpus" "$(cold cache-quarter '$WORK/quarter' '$OUT/quarter.json' --threads '$THREADS')"
    add "audit 1/2 corpus" "$(cold cache-half '$WORK/half' '$OUT/half.json' --threads '$THREADS')"
    add "audit 1 thread" "$(cold cache-one-thread '$TREE' '$OUT/one-thread.json' --threads 1)"
fi

# Runs one command once; appends "name<TAB>wall<TAB>rss_kb<TAB>cpu" to the samples (cpu: user +
# system seconds of the command and its children, from GNU time).
measure() {
    local name=$1 cmd=$2 rc=0 start end rss="" cpu="" errf="$work/stderr"
    if [ "$name" = "audit warm, 1 file changed" ]; then
        edit_one_file
    fi
    start=$(date +%s.%N)
    if [ -n "$gnu_time" ]; then
        "$gnu_time" -v -o "$work/time" bash -c "$cmd" 2>"$errf" || rc=$?
    else
        bash -c "$cmd" 2>"$errf" || rc=$?
    fi
    end=$(date +%s.%N)
    if [ -n "$gnu_time" ] && [ -s "$work/time" ]; then
        rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$work/time")
        cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { t += $2 } END { printf "%.3f", t }' "$work/time")
    fi
    case $name in
        audit*)
            # 0 passed, 1 gate failed, 3 incomplete: all are reports. 2 or a crash is a failure.
            case $rc in
                0 | 1 | 3) ;;
                *)
                    echo "bench: FAILED: '$name' exited with status $rc" >&2
                    echo "bench: command: $cmd" >&2
                    sed 's/^/  | /' "$errf" >&2
                    exit 1
                    ;;
            esac
            ;;
        ripsecrets*) ;; # exits 1 when it finds secrets
        *)
            if [ "$rc" != 0 ]; then
                echo "bench: FAILED: '$name' exited with status $rc" >&2
                sed 's/^/  | /' "$errf" >&2
                exit 1
            fi
            ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$name" "$(python3 -c "print(f'{$end - $start:.3f}')")" "$rss" "$cpu" >>"$samples"
}

echo "bench: corpus $corpus ($threads thread(s) for the main rows)" >&2
echo "bench: warm-up (untimed): reading the corpus once, priming the warm cache" >&2
measure "warmup" "${cmds[0]}"
if [ "$has_cache" = 1 ]; then
    # Hard-linking the mirrors just now set every file's change time, and the cache neither
    # records nor trusts a stamp younger than two seconds: wait, so that the primed cache holds
    # every file's stamp, as it would for a checkout older than a few seconds.
    sleep 3
    bash -c "$(audit '$TREE' '$OUT/prime.json' --threads '$THREADS' --cache-dir '$WORK/cache-warm')" \
        >/dev/null 2>&1 || true
fi
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

# The report must not depend on threads or on the cache (the warm run saw one file edited:
# compared against a cold run over the same edited tree).
identical=()
if [ "$scaling" = 1 ]; then
    if cmp -s "$out/audit.json" "$out/one-thread.json"; then
        identical+=("1 thread vs $threads threads: identical")
    else
        identical+=("1 thread vs $threads threads: DIFFERENT")
    fi
fi
if [ "$has_cache" = 1 ]; then
    bash -c "$(audit '$TREE' '$OUT/cold-edited.json' --threads '$THREADS' --no-cache)" >/dev/null 2>&1 || true
    if cmp -s "$out/warm.json" "$out/cold-edited.json"; then
        identical+=("warm cache vs no cache: identical")
    else
        identical+=("warm cache vs no cache: DIFFERENT")
    fi
fi
# The tree gates must change nothing: the same audit with every Rust file parsed (untimed).
bash -c "$(audit '$TREE' '$OUT/gated.json' --threads '$THREADS' $nocache)" >/dev/null 2>&1 || true
PRODREADY_PARSE_EVERY_RUST_FILE=1 \
    bash -c "$(audit '$TREE' '$OUT/every-tree.json' --threads '$THREADS' $nocache)" >/dev/null 2>&1 || true
# `files.not_parsed` may differ: it lists the files whose parse failed, and with the gates a file
# no rule needed parsed is never tried. Everything else must be identical.
same_but_not_parsed() {
    python3 - "$1" "$2" <<'PY'
import json, sys
reports = [json.load(open(path)) for path in sys.argv[1:]]
for report in reports:
    report["files"].pop("not_parsed", None)
sys.exit(0 if reports[0] == reports[1] else 1)
PY
}
if same_but_not_parsed "$out/gated.json" "$out/every-tree.json"; then
    identical+=("tree gates vs every Rust file parsed: identical (but for files.not_parsed)")
else
    identical+=("tree gates vs every Rust file parsed: DIFFERENT")
fi

# --- report --------------------------------------------------------------
echo
echo "prodready benchmark, $(date -u +%Y-%m-%dT%H:%MZ): $runs run(s), interleaved; corpus $corpus"
echo "machine: $(nproc) CPU(s), $(uname -sr); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "prodready $("$prodready" --version 2>/dev/null || echo '?'); main rows on $threads thread(s)"
echo "syn-parse reference: $(cat "$out/syn-parse.txt")"
echo
python3 - "$samples" "$tree" "$work" "$out/audit.json" "$scaling" "$threads" "$row_trees" "${names[@]}" <<'PY'
import json, os, statistics, sys
path, tree, work, audit_json, scaling, threads, row_trees, names = (
    sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1", sys.argv[6],
    sys.argv[7], sys.argv[8:])
wall, rss, cpu = {n: [] for n in names}, {n: [] for n in names}, {n: [] for n in names}
with open(path) as f:
    for line in f:
        name, w, r, c = line.rstrip("\n").split("\t")
        wall[name].append(float(w))
        if r.strip().isdigit():
            rss[name].append(int(r) / 1024)
        if c.strip():
            cpu[name].append(float(c))

def size(root):
    files = total = 0
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                files += 1
                total += os.path.getsize(p)
    return files, total

trees = {"audit": tree, "syn-parse all": tree, "ripsecrets": tree, "cat floor": tree,
         "audit warm, 1 file changed": tree, "audit 1 thread": tree,
         "audit 1/4 corpus": os.path.join(work, "quarter"), "audit 1/2 corpus": os.path.join(work, "half")}
with open(row_trees) as f:
    trees.update(line.rstrip("\n").split("\t", 1) for line in f if line.strip())
sizes = {t: size(t) for t in set(trees[n] for n in names)}
med = {n: statistics.median(wall[n]) for n in names}
med_cpu = {n: statistics.median(cpu[n]) for n in names if cpu[n]}
rows = []
for n in names:
    files, total = sizes[trees[n]]
    m = med[n]
    med_rss = f"{statistics.median(rss[n]):.1f}" if rss[n] else "n/a"
    rows.append((n, f"{m:.3f}", f"{med_cpu[n]:.3f}" if n in med_cpu else "n/a",
                 f"{min(wall[n]):.3f}", f"{max(wall[n]):.3f}",
                 f"{total / 1e6 / m:.1f}" if m > 0 else "n/a",
                 f"{files / m:.0f}" if m > 0 else "n/a", med_rss, f"{total / 1e6:.0f}",
                 str(len(wall[n]))))
head = ("command", "median s", "cpu s", "min s", "max s", "MB/s", "files/s", "peak RSS MB",
        "tree MB", "runs")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
print(fmt(head))
print("  ".join("-" * w for w in widths))
for r in rows:
    print(fmt(r))
print("(median s: wall time; cpu s: median user + system time; MB/s and files/s over every file")
print(" of the tree, whatever its kind, on the wall time)")
print()

def target(label, value, ok, goal):
    print(f"  {label:<44} {value:>10}   target {goal:<12} {'PASS' if ok else 'FAIL'}")

print("targets (ratios of medians from this run):")
a = med["audit"]
target("audit / syn-parse all", f"{a / med['syn-parse all']:.2f}x", a / med["syn-parse all"] <= 0.75, "<= 0.75x")
if "audit" in med_cpu and "syn-parse all" in med_cpu:
    r = med_cpu["audit"] / med_cpu["syn-parse all"]
    target("audit / syn-parse all, CPU time", f"{r:.2f}x", r <= 0.25, "<= 0.25x")
if "ripsecrets subset" in med:
    for row, goal in (("audit subset", 20), ("audit subset --select SEC", 40)):
        r = med["ripsecrets subset"] / med[row]
        target(f"ripsecrets / {row}", f"{r:.1f}x", r >= goal, f">= {goal}x")
corpus_rate = sizes[tree][1] / 1e6 / a
for n in names:
    if n.startswith("audit workspace") or n.startswith("audit field"):
        rate = sizes[trees[n]][1] / 1e6 / med[n]
        target(f"{n} MB/s vs corpus", f"{rate / corpus_rate:.2f}x", rate >= corpus_rate / 2,
               ">= 0.5x")
if "audit workspace N=40" in med and "audit workspace N=160" in med:
    r = med["audit workspace N=160"] / med["audit workspace N=40"]
    target("workspace N=160 / N=40", f"{r:.2f}x", r <= 4.5, "<= 4.5x")
if "ripsecrets" in med:
    target("ripsecrets / audit", f"{med['ripsecrets'] / a:.1f}x", med["ripsecrets"] / a >= 20, ">= 20x")
if "audit warm, 1 file changed" in med:
    w = med["audit warm, 1 file changed"]
    target("audit warm (1 file changed) / audit cold", f"{w / a:.2f}x", w / a <= 0.15, "<= 0.15x")
if rss["audit"]:
    peak = max(rss["audit"])
    target("audit peak RSS (max over runs)", f"{peak:.0f} MB", peak < 300, "< 300 MB")
if "audit 1 thread" in med:
    s = med["audit 1 thread"] / a
    target(f"audit 1 thread / audit {threads} threads", f"{s:.2f}x", s >= 1.7, ">= 1.7x")
print(f"  {'audit / cat floor':<44} {a / med['cat floor']:>9.1f}x")
if scaling and rss["audit"] and rss["audit 1/4 corpus"] and rss["audit 1/2 corpus"]:
    print("\ngrowth with corpus size (median wall, median peak RSS):")
    for n in ("audit 1/4 corpus", "audit 1/2 corpus", "audit"):
        files, total = sizes[trees[n]]
        print(f"  {n:<20} {total / 1e6:7.0f} MB {files:7d} files  {med[n]:8.3f} s  "
              f"{statistics.median(rss[n]):7.1f} MB RSS")
ws = [f"audit workspace N={n}" for n in (10, 40, 160) if f"audit workspace N={n}" in med]
if ws:
    print("\ngrowth with workspace members (median wall, median CPU):")
    for n in ws:
        files, total = sizes[trees[n]]
        print(f"  {n:<24} {total / 1e6:7.1f} MB {files:7d} files  {med[n]:8.3f} s  "
              f"{med_cpu.get(n, float('nan')):8.3f} s CPU")
print("\nper-run wall seconds:")
for n in names:
    print(f"  {n}: " + ", ".join(f"{w:.3f}" for w in wall[n]))

with open(audit_json) as f:
    report = json.load(f)
files = report.get("files", {})
print(f"\naudit report (last run): {files.get('scanned')} files scanned, {files.get('lines')} lines, "
      f"{len(report.get('findings', []))} findings, {len(files.get('not_parsed') or [])} not parsed, "
      f"{len(files.get('not_analysed') or [])} not analysed")
PY
for line in "${identical[@]}"; do
    echo "output: $line"
done
