#!/usr/bin/env bash
# Builds the seed corpora of the container targets with qemu-img into
# fuzz/seeds/container_{vmdk,vhd}/ (or $1/…): small VMDKs (monolithicSparse,
# streamOptimized, empty ones) and VHDs (dynamic, fixed, empty), made from a
# 1 MiB disk with a few random 4 KiB runs. Dynamic VHD blocks are 2 MiB, so
# only the first 64 KiB of the filled one is kept (its footer copy at byte 0
# still opens it). Needs qemu-img and python3.
set -euo pipefail
export PATH=/usr/sbin:/sbin:/usr/bin:/bin
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/seeds}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/container_vmdk" "$out/container_vhd"
python3 - "$work/src.raw" <<'PY'
import random, sys
r = random.Random(3)
d = bytearray(1 << 20)
for i in range(0, len(d), 65536 * 3):
    d[i:i + 4096] = bytes(r.getrandbits(8) for _ in range(4096))
open(sys.argv[1], "wb").write(d)
PY
v=$out/container_vmdk
for sf in monolithicSparse streamOptimized; do
    qemu-img convert -q -f raw -O vmdk -o subformat=$sf "$work/src.raw" "$v/$sf.vmdk"
done
qemu-img create -q -f vmdk -o subformat=streamOptimized "$v/empty-stream.vmdk" 1M
qemu-img create -q -f vmdk "$v/empty.vmdk" 1M
h=$out/container_vhd
qemu-img convert -q -f raw -O vpc -o subformat=dynamic "$work/src.raw" "$work/dynamic.vhd"
head -c 65536 "$work/dynamic.vhd" >"$h/dynamic-head.vhd"
qemu-img create -q -f vpc -o subformat=dynamic "$h/empty.vhd" 1M
qemu-img create -q -f vpc -o subformat=fixed "$h/fixed.vhd" 64k
echo "seeds-containers.sh: seeds in $out/container_vmdk and $out/container_vhd" >&2
