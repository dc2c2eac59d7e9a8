#!/usr/bin/env python3
"""Materialises every repository of repos.tsv at its pinned commit into TREES/<owner>+<name>/.

Usage: bench/field/materialise.py TREES [MIRRORS]

MIRRORS (default /work/.mirror) holds the git snapshots the search tool's `fetch` verb brought:
MIRRORS/<owner>+<name>/repo is a bare git directory. A snapshot may lack its largest blobs;
those files are left out (and listed), as an audit would skip most of them anyway. Idempotent:
a tree already made at the pinned commit is kept.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def repos():
    with open(os.path.join(HERE, "repos.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                repo, commit = line.rstrip("\n").split("\t")[:2]
                yield repo, commit


def materialise(git_dir, commit, dest):
    listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "-z", commit],
                             capture_output=True, check=True).stdout
    entries = []
    for record in listing.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            mode, kind, sha = meta.split()
            if kind == b"blob":
                entries.append((mode, sha, path))
    batch = subprocess.Popen(["git", "--git-dir", git_dir, "cat-file", "--batch"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    missing = []
    for mode, sha, path in entries:
        batch.stdin.write(sha + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if header[-1] == b"missing":
            missing.append(path.decode(errors="replace"))
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        target = os.path.join(dest.encode(), path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if mode == b"120000":
            os.symlink(data, target)
        else:
            with open(target, "wb") as f:
                f.write(data)
    batch.stdin.close()
    batch.wait()
    return missing


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    trees = sys.argv[1]
    mirrors = sys.argv[2] if len(sys.argv) > 2 else "/work/.mirror"
    os.makedirs(os.path.join(trees, ".commits"), exist_ok=True)
    for repo, commit in repos():
        slug = repo.replace("/", "+")
        dest = os.path.join(trees, slug)
        stamp = os.path.join(trees, ".commits", slug)
        if os.path.isdir(dest) and os.path.exists(stamp) and open(stamp).read().strip() == commit:
            continue
        git_dir = os.path.join(mirrors, slug, "repo")
        if not os.path.isdir(git_dir):
            sys.exit(f"missing {git_dir}: fetch github:{repo} first")
        subprocess.run(["rm", "-rf", dest], check=True)
        missing = materialise(git_dir, commit, dest)
        with open(stamp, "w") as f:
            f.write(commit + "\n")
        note = f" ({len(missing)} blob(s) absent from the snapshot: {', '.join(missing[:3])})" if missing else ""
        print(f"{repo} -> {dest}{note}")


if __name__ == "__main__":
    main()
