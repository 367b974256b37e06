#!/usr/bin/env bash
# Benchmark row for archives opened in place: builds a multi-GB .tar.gz of
# a disk-like file (a mix of random, text-like and zero runs, so it
# compresses about like a used server disk), then times the gzip index
# pass and 200 random 64 KiB reads (native, release build) and prints one
# Markdown table row.
# Usage: scripts/bench-archive.sh [SIZE_GIB (default 2)] [WORK_DIR (default /tmp)]
# Needs tar, gzip (pigz when present: faster to build), python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gib=${1:-2}
work=${2:-/tmp}/salvage-bench-archive
mkdir -p "$work"
archive=$work/disk-${gib}g.tar.gz
if [ ! -f "$archive" ]; then
    python3 - "$work/disk.raw" "$gib" <<'PY'
import os, random, sys
path, gib = sys.argv[1], int(sys.argv[2])
r = random.Random(1)
text = b"".join(b"%d: Dec  3 20:00:00 host sshd[%d]: Accepted publickey for alice\n" % (i, i * 7) for i in range(20000))
rand = os.urandom(8 << 20)
mib = 1 << 20
with open(path, "wb") as f:
    for i in range(gib * 1024 // 8):
        kind = r.random()
        if kind < 0.3:  # already-compressed data
            f.write(rand[r.randrange(0, 4) * mib:][:4 * mib] * 2)
        elif kind < 0.7:  # logs, configs, binaries: compressible
            chunk = text[r.randrange(0, len(text) // 2):]
            buf = (chunk * (8 * mib // len(chunk) + 1))[:8 * mib]
            f.write(buf)
        else:  # free space
            f.write(bytes(8 * mib))
PY
    gz=gzip
    command -v pigz >/dev/null && gz="pigz -p 2"
    (cd "$work" && tar --format=gnu -cf - disk.raw | $gz >"$archive")
    rm -f "$work/disk.raw"
fi
cd "$here"
SALVAGE_BENCH_ARCHIVE=$archive cargo test --release --test containers_archives bench_archive -- --ignored --nocapture 2>/dev/null |
    grep '^|'
