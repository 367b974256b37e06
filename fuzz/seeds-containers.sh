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

# Seeds for the container_{qcow2,vhdx,vdi} targets, made with qemu-img
# into DIR/<target>/ (default fuzz/seeds): a 256 KiB disk of text and
# random bytes as qcow2 (v2 and v3, 512 B / 4 KiB / 16 KiB clusters,
# zlib and zstd compressed, extended L2), VDI (static, dynamic) and an
# empty dynamic VHDX cut to its first 4 MiB (headers, log, metadata, BAT).
# With SALVAGE_CORPUS set, the qemu-iotests dirty-log VHDX is cut to
# 4 MiB too, its log entries' flushed/last file offsets rewritten to
# 4 MiB and their CRC-32C recomputed, so the fuzzer reaches log replay.
out=${1:-$(cd "$(dirname "$0")" && pwd)/seeds}
tmp=$(mktemp -d)
trap 'rm -rf "$work" "$tmp"' EXIT
mkdir -p "$out"/container_{qcow2,vhdx,vdi}
python3 - "$tmp/s.raw" <<'PY'
import random, sys
d = bytearray(256 * 1024)
t = b''.join(b'line %d fox\n' % i for i in range(3000))
d[4096:4096 + len(t)] = t
random.seed(1)
d[100000:104096] = bytes(random.randrange(256) for _ in range(4096))
open(sys.argv[1], 'wb').write(d)
PY
for o in compat=0.10,cluster_size=512 cluster_size=512 cluster_size=16384,extended_l2=on cluster_size=4096,compression_type=zstd; do
    n=$(echo "$o" | tr ',=' '__')
    qemu-img convert -O qcow2 -o "$o" "$tmp/s.raw" "$out/container_qcow2/$n.qcow2"
    qemu-img convert -c -O qcow2 -o "$o" "$tmp/s.raw" "$out/container_qcow2/c_$n.qcow2"
done
cp "$tmp/s.raw" "$tmp/s1.raw"
truncate -s 1M "$tmp/s1.raw"
qemu-img convert -O vdi "$tmp/s1.raw" "$out/container_vdi/dyn.vdi"
qemu-img convert -O vdi -o static=on "$tmp/s1.raw" "$out/container_vdi/static.vdi"
qemu-img create -q -f vhdx -o block_size=1M,log_size=1M "$tmp/e.vhdx" 1M
head -c 4M "$tmp/e.vhdx" >"$out/container_vhdx/empty-4m.vhdx"
dirty=${SALVAGE_CORPUS:-}/qemu-iotests/iotest-dirtylog-10G-4M.vhdx.bz2
if [ -n "${SALVAGE_CORPUS:-}" ] && [ -f "$dirty" ]; then
    bzip2 -dc "$dirty" | head -c 4M >"$tmp/d.vhdx" || true
    python3 - "$tmp/d.vhdx" "$out/container_vhdx/dirtylog-4m.vhdx" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    table.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = table[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
for i in range(0x100000, 0x200000, 4096):
    if d[i:i + 4] != b'loge':
        continue
    n = struct.unpack_from('<I', d, i + 8)[0]
    struct.pack_into('<QQ', d, i + 48, 4 << 20, 4 << 20)
    e = bytearray(d[i:i + n])
    e[4:8] = bytes(4)
    struct.pack_into('<I', d, i + 4, crc32c(e))
open(sys.argv[2], 'wb').write(d)
PY
fi
# Seeds for container_{tar,gzip}: GNU tar in gnu/pax formats with a sparse
# member (old GNU 'S' and PAX 1.0), and gzip single and multi-member, of a
# 64 KiB file with a hole.
mkdir -p "$out/container_tar" "$out/container_gzip"
(cd "$tmp" && head -c 16384 /dev/urandom >s.raw && truncate -s 65536 s.raw && printf 'tail' >>s.raw &&
    tar --format=gnu -Scf "$out/container_tar/gnu-sparse.tar" s.raw &&
    tar --format=pax -S --sparse-version=1.0 -cf "$out/container_tar/pax-1.0.tar" s.raw &&
    tar --format=pax -S --sparse-version=0.1 -cf "$out/container_tar/pax-0.1.tar" s.raw &&
    tar --format=ustar -cf "$out/container_tar/ustar.tar" s.raw &&
    gzip -c s.raw >"$out/container_gzip/one.gz" &&
    { gzip -c s.raw; gzip -1 -c s.raw; } >"$out/container_gzip/two-members.gz" &&
    gzip -c "$out/container_tar/gnu-sparse.tar" >"$out/container_gzip/tar.gz" &&
    mkdir -p "$out/container_xz" && xz -T1 -0 --block-size=16KiB -c s.raw >"$out/container_xz/blocks.xz" &&
    { xz -0 -c s.raw; xz -0 --check=crc32 -c s.raw; } >"$out/container_xz/two-streams.xz" &&
    mkdir -p "$out/container_zstd" && zstd -q -c s.raw >"$out/container_zstd/one.zst" &&
    { zstd -q -c s.raw; cat s.raw | zstd -q -c; } >"$out/container_zstd/two-frames.zst")
ls "$out"/container_*
