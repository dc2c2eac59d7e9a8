#!/usr/bin/env bash
# The 28 MB subset of the benchmark corpus that issue 26's peer ratios are quoted on: tokio,
# reqwest, hyper, sqlx-core and aws-sdk-s3, hard-linked (no bytes copied) into DEST.
#
# Usage: bench/subset.sh CORPUS DEST   (DEST must not exist yet; prints DEST)
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: bench/subset.sh CORPUS DEST" >&2
    exit 2
fi
corpus=$1 dest=$2
if [ -e "$dest" ]; then
    echo "bench/subset.sh: $dest exists" >&2
    exit 2
fi
mkdir -p "$dest"
for crate in tokio reqwest hyper sqlx-core aws-sdk-s3; do
    if [ ! -d "$corpus/$crate" ]; then
        echo "bench/subset.sh: $corpus/$crate not found (is CORPUS the vendored corpus?)" >&2
        exit 2
    fi
    cp -al "$corpus/$crate" "$dest/" 2>/dev/null || cp -a "$corpus/$crate" "$dest/"
done
echo "$dest"
