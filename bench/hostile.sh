#!/usr/bin/env bash
# Generates every hostile input of issue 12 together in one tree (as tests/hostile.rs does,
# with every file read: max_file_size = 64 MiB) beside an ordinary project, and measures one
# `prodready audit` over it: wall time and peak RSS (GNU time). The budget is < 1 GB peak RSS.
#
# Usage: bench/hostile.sh [PRODREADY]   (default: target/release/prodready, built if missing)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$repo/target/release/prodready}
if [ ! -x "$bin" ]; then
    (cd "$repo" && cargo build --release --locked --quiet)
    bin=$repo/target/release/prodready
fi
if ! [ -x /usr/bin/time ] || ! /usr/bin/time -f %M -o /dev/null true >/dev/null 2>&1; then
    echo "bench: GNU time (/usr/bin/time) is required: apt-get install time" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "bench: python3 is required" >&2; exit 2; }

work=$(mktemp -d)
cleanup() { chmod -R u+rwx "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
root=$work/repo
outside=$work/outside
mkdir -p "$root" "$outside"

python3 - "$root" "$outside" <<'PY'
import os, sys
root, outside = sys.argv[1], sys.argv[2]
N = 10_000
def w(path, data, base=root):
    full = os.path.join(base.encode() if isinstance(path, bytes) else base, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
retry = ("use std::time::Duration;\npub fn connect(addr: &str) -> std::io::Result<std::net::TcpStream> {\n"
         "    let delay = Duration::from_secs(1);\n    let mut tries = 0;\n    while tries < 10 {\n"
         "        let conn = std::net::TcpStream::connect(addr);\n        if conn.is_ok() {\n            return conn;\n        }\n"
         "        tries += 1;\n        std::thread::sleep(delay);\n    }\n    std::net::TcpStream::connect(addr)\n}\n")
w("Cargo.toml", '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n')
w("Cargo.lock", 'version = 4\n\n[[package]]\nname = "hello"\nversion = "0.1.0"\n')
w("prodready.toml", "max_file_size = 67108864\n")
w("src/retry.rs", retry)
w("src/latin1.rs", b"// caf\xe9\npub fn a() {}\n")
w("deploy/latin1.yaml", b"name: caf\xe9\n")
w("config/latin1.toml", b'name = "caf\xe9"\n')
w("src/bom.rs", "\ufeffpub fn b() {}\n")
w("src/crlf.rs", "pub fn c() {}\r\npub fn d() {}\r\n")
w("src/cr.rs", "pub fn e() {}\rpub fn f() {}\r")
w("src/blob.rs", b"\x7fELF\x02\x01\x01\x00\x00\x00")
w("src/empty.rs", "")
w("src/huge.rs", 'pub const BLOB: &str = "' + "abcdefghij" * (5 * 1024 * 1024) + '";')
w("src/broken.rs", "pub fn main( {\n")
w("src/future.rs", "pub fn g(x: &pin mut u8) {}\n")
nest = lambda o, i, c: o * N + i + c * N
w("src/deep_parens.rs", "pub fn f() -> u8 { " + nest("(", "1", ")") + " }\n")
w("src/deep_blocks.rs", "pub fn f() { " + nest("{ ", "", "}") + " }\n")
w("src/deep_closures.rs", "pub fn f() { let _c = " + "|a| " * N + "1; }\n")
w("src/deep_generics.rs", "pub type T = " + nest("Option<", "u8", ">") + ";\n")
w("src/deep_chain.rs", "pub fn f(a: u8) -> u8 { a" + " + a" * N + " }\n")
bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
prev = "a"
for name in "bcdefghi":
    bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    prev = name
w("deploy/bomb.yaml", bomb)
w("deploy/deep.yaml", "a: " + nest("[", "1", "]") + "\n")
w("deploy/dup.yaml", "a: 1\na: 2\n")
w("deploy/multi.yaml", "kind: ConfigMap\n---\nkey: [unclosed\n---\nkind: Secret\n")
w("config/deep.toml", "a = " + nest("[", "1", "]") + "\n")
w("config/deep-tables.toml", "a = " + nest("{ b = ", "1", " }") + "\n")
w("config/deep.json", nest("[", "1", "]"))
w("config/big-array.toml", "a = [" + "0," * 2_000_000 + "]\n")
os.symlink("loop-b", os.path.join(root, "loop-a"))
os.symlink("loop-a", os.path.join(root, "loop-b"))
w("secret.rs", retry, base=outside)
os.symlink(os.path.join(outside, "secret.rs"), os.path.join(root, "src/outside.rs"))
os.symlink(outside, os.path.join(root, "linked-dir"))
w("locked/inner.rs", retry)
os.chmod(os.path.join(root, "locked"), 0)
w(b"src/caf\xe9.rs", "pub fn g() {}\n")
# Issue 24: secrets at scale. A 50 MB single line, a file that is all base64, and 100,000
# `password=` lines (each a finding, each masked).
import base64, random
rng = random.Random(24)
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 =:\""
w("secrets/one-line.txt", "".join(rng.choice(alphabet) for _ in range(50_000_000)))
w("secrets/all-base64.txt", base64.b64encode(rng.randbytes(3_000_000)).decode())
word = lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
w("secrets/passwords.ini", "".join(f"password={word()}\n" for _ in range(100_000)))
PY

echo "hostile tree: $(du -sh "$root" 2>/dev/null | cut -f1) in $(find "$root" 2>/dev/null | wc -l) entries"
status=0
/usr/bin/time -f '%e %M' -o "$work/time" "$bin" audit "$root" --format json \
    --output "$work/report.json" --quiet || status=$?
if [ "$status" -gt 3 ] || [ "$status" -eq 2 ]; then
    echo "bench: prodready exited $status" >&2
    exit 1
fi
read -r wall rss_kb < "$work/time"
rss_mb=$((rss_kb / 1024))
echo "exit code: $status"
echo "wall time: ${wall} s"
echo "peak RSS:  ${rss_mb} MiB"
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["files"]
for key in ["skipped", "notes", "not_parsed", "not_analysed"]:
    print(f"{key}: {len(f.get(key, []))}")
codes = sorted({x["code"] + " " + (x["path"] or "") for x in r["findings"]})
print("findings:", ", ".join(codes))
passwords = sum(1 for x in r["findings"] if x["path"] == "secrets/passwords.ini")
cut = [n for n in f.get("not_analysed", []) if n["path"].startswith("secrets/")]
print(f"secrets/passwords.ini: {passwords} findings; secrets files cut off by the budget: {len(cut)}")
PY
# Every password is masked: none of the file's values appears in the report.
python3 - "$root/secrets/passwords.ini" "$work/report.json" <<'PY'
import re, sys
values = {line.split("=", 1)[1] for line in open(sys.argv[1]).read().splitlines()}
shown = set(re.findall(r"(?<![a-z0-9])[a-z0-9]{12}(?![a-z0-9])", open(sys.argv[2]).read()))
leaked = len(values & shown)
print(f"passwords printed raw: {leaked}")
sys.exit(1 if leaked else 0)
PY
if [ "$rss_kb" -ge $((1024 * 1024)) ]; then
    echo "bench: peak RSS ${rss_mb} MiB is over the 1 GB budget" >&2
    exit 1
fi
