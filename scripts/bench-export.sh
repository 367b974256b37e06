#!/usr/bin/env bash
# Export benchmark: the same ext4 image and files through native
# `salvage export`, `7z x` and `debugfs rdump`, one table row each,
# measured in one run with the image in the page cache.
#
#   bash scripts/bench-export.sh [WORKDIR] [MIB]
#
# WORKDIR (default /tmp/salvage-bench) holds the tree, the image and the
# outputs; MIB (default 1024) is the size of the file set: eight large
# random files plus 2,000 small ones. BENCH_REPEAT=N (default 1) runs the
# rows N times in turn and prints each row's best (a shared machine's load
# moves single runs by ±30 % and more). Needs root for nothing but apt-get
# (7zip, time). SALVAGE_BIN picks the binary (default: a release build).
# Browser rows are added by the browser benchmark.
set -euo pipefail

work=${1:-/tmp/salvage-bench}
mib=${2:-1024}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${SALVAGE_BIN:-}
if [[ -z $bin ]]; then
    (cd "$here" && cargo build --release -q)
    bin=${CARGO_TARGET_DIR:-$here/target}/release/salvage
fi
if ! command -v 7z >/dev/null && ! command -v 7zz >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q 7zip >/dev/null
fi
[[ -x /usr/bin/time ]] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null
# Debian 12's 7zip package names its binary 7zz; later ones also 7z.
sevenz=$(command -v 7z || command -v 7zz)
export PATH=/usr/sbin:/sbin:$PATH

mkdir -p "$work"
tree=$work/tree img=$work/disk.img
if [[ ! -f $img || ! -f $work/.size-$mib ]]; then
    rm -rf "$tree" "$img" "$work"/.size-*
    mkdir -p "$tree/big" "$tree/small"
    big_mib=$(( mib * 7 / 8 / 8 ))
    for i in 1 2 3 4 5 6 7 8; do
        head -c "$(( big_mib << 20 ))" /dev/urandom > "$tree/big/file$i.bin"
    done
    small_bytes=$(( (mib << 20) / 8 / 2000 ))
    head -c "$(( small_bytes * 2000 ))" /dev/urandom | split -a 4 -d -b "$small_bytes" - "$tree/small/f"
    mke2fs -q -F -t ext4 -d "$tree" "$img" "$(( mib * 5 / 4 + 64 ))M" > /dev/null
    touch "$work/.size-$mib"
fi
bytes=$(du -sb --apparent-size "$tree/big" "$tree/small" | awk '{s += $1} END {print s}')
cat "$img" > /dev/null  # into the page cache

row() {  # name, output dir or file, command…
    local name=$1 out=$2
    shift 2
    rm -rf "$out"
    sync
    # Each row includes a final sync: salvage fsyncs its zip before the
    # rename, so the others' output must reach the disk too to compare.
    /usr/bin/time -f '%e %M' -o "$work/time.txt" bash -c '"$@"; rc=$?; sync; exit $rc' row "$@" > /dev/null 2> "$work/stderr.txt" || {
        local rc=$?
        # salvage exits 3 when files are incomplete; anything else fails the row.
        [[ $name == salvage* && $rc == 3 ]] || { echo "$name failed ($rc):"; cat "$work/stderr.txt"; return 0; }
    }
    read -r secs kib < "$work/time.txt"
    echo "$name|$secs|$kib" >> "$work/rows.txt"
    rm -rf "$out"
}

echo "file set: $(( bytes / 1000000 )) MB in $(find "$tree" -type f | wc -l) files; image $(du -h --apparent-size "$img" | cut -f1) in the page cache; $(nproc) cores"
echo
echo "| tool                       | seconds  | MB/s     | peak MiB  |"
echo "|----------------------------|----------|----------|-----------|"
rm -f "$work/rows.txt"
# awk reads to the end: quitting early could kill 7-Zip with SIGPIPE, and
# pipefail + set -e would then end this script.
sevenz_name="7z x $("$sevenz" i 2>/dev/null | awk '/^7-Zip/ && !v { v = $3 } END { print v }')"
for _ in $(seq "${BENCH_REPEAT:-1}"); do
    row "salvage export (stored)" "$work/out.zip" "$bin" export "$img" / -o "$work/out.zip"
    row "salvage export --deflate" "$work/out.zip" "$bin" export "$img" / -o "$work/out.zip" --deflate
    row "$sevenz_name" "$work/7z" "$sevenz" x -y -o"$work/7z" "$img"
    row "debugfs rdump" "$work/rdump" bash -c "mkdir -p '$work/rdump' && debugfs -R 'rdump / $work/rdump' '$img'"
done
# Each row's best run, in the order above.
awk -F'|' -v b="$bytes" '
    !($1 in best) { order[++n] = $1 }
    !($1 in best) || $2 < best[$1] { best[$1] = $2; kib[$1] = $3 }
    END { for (i = 1; i <= n; i++) { k = order[i]; s = best[k]
          printf "| %-26s | %8.2f | %8.0f | %9.0f |\n", k, s, b / 1e6 / (s > 0 ? s : 0.01), kib[k] / 1024 } }' "$work/rows.txt"
[[ ${BENCH_REPEAT:-1} -gt 1 ]] && echo && echo "all runs (seconds): $(awk -F'|' '{printf "%s %s; ", $1, $2}' "$work/rows.txt")"
true
