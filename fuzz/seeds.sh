#!/usr/bin/env bash
# Builds the seed corpora for the fuzz targets with the real tools
# (mke2fs -d, debugfs, e2fsck), into fuzz/seeds/<target>/ or $1/<target>/.
# Images stay at 1 MiB or less, except the dirty-journal ones: mke2fs
# refuses a journal of fewer than 1024 blocks, so those are 3 MiB.
# Needs e2fsprogs and python3; run from anywhere.
set -euo pipefail
export PATH=/usr/sbin:/sbin:/usr/bin:/bin

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/seeds}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"/{ext4_walk,ext4_extent,ext4_dir_block,ext4_journal}

# Deterministic bytes: seed, length.
bytes() { python3 -c "import random,sys; r=random.Random($1); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range($2)))"; }

# A small tree: files around block boundaries, a symlink of each kind,
# a directory big enough to be hash-indexed, a sparse file with many
# extents (a depth-1 tree) and, with 1 KiB blocks, double indirection.
tree() {
    local d=$1
    mkdir -p "$d/a/b" "$d/many" "$d/small"
    printf x >"$d/one"
    : >"$d/zero"
    bytes 1 1500 >"$d/a/f1500"
    bytes 2 13000 >"$d/a/b/f13000"
    bytes 3 300000 >"$d/big"
    ln -s a/b/f13000 "$d/fast"
    ln -s "$(printf 'long-name-%.0s' {1..8})/target" "$d/slow"
    for i in $(seq 1 120); do printf '%s' "$i" >"$d/many/file-with-a-longish-name-$i"; done
    for i in 1 2 3; do printf 's%s' "$i" >"$d/small/$i"; done
    python3 - "$d/sparse" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(8):
        f.seek(i * 8192)
        f.write(bytes([65 + i]) * 1024)
EOF
    chmod 4755 "$d/one"
    chmod 1777 "$d/small"
}

mkimg() { # name size mke2fs-args...
    local name=$1 size=$2
    shift 2
    rm -f "$work/$name.img"
    mke2fs -q -F -E root_owner=0:0 "$@" -d "$work/src" "$work/$name.img" "$size" >/dev/null
    e2fsck -fyD "$work/$name.img" >/dev/null 2>&1 || [ $? -le 1 ]
}

mkdir -p "$work/src"
tree "$work/src"
mkimg ext2-1k 1M -t ext2 -b 1024 -N 192
mkimg ext4-1k 1M -t ext4 -b 1024 -N 192 -O ^has_journal
mkimg ext4-csum-1k 1M -t ext4 -b 1024 -N 192 -O ^has_journal,metadata_csum,64bit
mkimg ext4-inline 1M -t ext4 -b 1024 -N 192 -I 256 -O ^has_journal,inline_data
mkimg ext2-nofiletype 1M -t ext2 -b 1024 -N 192 -O ^filetype
mkimg ext4-4k 1M -t ext4 -b 4096 -N 192 -O ^has_journal
for i in ext2-1k ext4-1k ext4-csum-1k ext4-inline ext2-nofiletype ext4-4k; do
    cp "$work/$i.img" "$out/ext4_walk/$i"
done

# 64 KiB images of a tiny tree: a mutation is more likely to hit metadata.
mkdir -p "$work/tiny/d"
printf x >"$work/tiny/d/a"
bytes 4 20000 >"$work/tiny/b"
ln -s d/a "$work/tiny/l"
python3 - "$work/tiny/sparse" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(6):
        f.seek(i * 2048)
        f.write(bytes([97 + i]) * 1024)
EOF
tiny() { # name mke2fs-args...
    local name=$1
    shift
    # mke2fs leaves a new file short when its last blocks are unused.
    rm -f "$work/$name.img"
    truncate -s 64K "$work/$name.img"
    mke2fs -q -F -E root_owner=0:0 -N 16 "$@" -d "$work/tiny" "$work/$name.img" >/dev/null
    cp "$work/$name.img" "$out/ext4_walk/$name"
}
tiny tiny-ext2 -t ext2 -b 1024
tiny tiny-ext4 -t ext4 -b 1024 -O ^has_journal
tiny tiny-ext4-csum-inline -t ext4 -b 1024 -I 256 -O ^has_journal,metadata_csum,inline_data

# Dirty journals: ext3, and ext4 with metadata_csum (checksum v3), each
# with two committed transactions and a revoke; the first with one
# uncommitted transaction after them.
journal() { # name size jo-args mke2fs-args...
    local name=$1 size=$2 jo=$3
    shift 3
    rm -f "$work/$name.img"
    mke2fs -q -F -E root_owner=0:0 "$@" -J size=1 -d "$work/src" "$work/$name.img" "$size" >/dev/null
    printf 'jo %s\njw -b 300,301 /dev/zero\njc\njo\njw -r 301\njw -b 302 %s\njc\n' "$jo" "$work/src/a/f1500" \
        | debugfs -w -f - "$work/$name.img" >/dev/null 2>&1
    cp "$work/$name.img" "$out/ext4_journal/$name"
}
journal ext3-dirty 3M "" -t ext3 -b 1024 -N 192
journal ext4-csum-dirty 3M -c -t ext4 -b 1024 -N 192 -O metadata_csum,^resize_inode

# Extent and block-map seeds: i_block, a block-size byte, then the tree's
# node (or indirect) blocks, renumbered 0, 1, 2... in i_block and in the
# nodes, so node block n is the n-th block after the header (fuzzing.rs).
python3 - "$work" "$out" <<'EOF'
import os, re, struct, subprocess, sys
work, out = sys.argv[1], sys.argv[2]
def debugfs(img, cmd):
    return subprocess.run(["debugfs", "-R", cmd, img], capture_output=True, text=True).stdout
def inode_at(img, path, bs):
    m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", debugfs(img, "imap " + path))
    return int(m.group(1)) * bs + int(m.group(2), 16)
def block_list(img, path):
    return [int(b) for b in re.findall(r"\d+", debugfs(img, "blocks " + path))]
def renumber_extents(node, data, bs, blocks):
    node = bytearray(node)
    entries, depth = struct.unpack_from("<H", node, 2)[0], struct.unpack_from("<H", node, 6)[0]
    if depth == 0:
        return bytes(node)
    for i in range(entries):
        off = 12 + 12 * i
        lo, hi = struct.unpack_from("<IH", node, off + 4)
        child = data[(lo | hi << 32) * bs:((lo | hi << 32) + 1) * bs]
        n = len(blocks)
        blocks.append(None)
        blocks[n] = renumber_extents(child, data, bs, blocks)
        struct.pack_into("<IH", node, off + 4, n, 0)
    return bytes(node)
def renumber_map(ptrs, levels, data, bs, blocks):
    # ptrs: a bytearray of u32 pointers whose targets are `levels` deep.
    for i in range(len(ptrs) // 4):
        p = struct.unpack_from("<I", ptrs, 4 * i)[0]
        if p == 0 or levels == 0:
            continue
        child = bytearray(data[p * bs:(p + 1) * bs])
        n = len(blocks)
        blocks.append(None)
        renumber_map(child, levels - 1, data, bs, blocks)
        blocks[n] = bytes(child)
        struct.pack_into("<I", ptrs, 4 * i, n)
for name, bs, shift, paths in [("ext4-1k", 1024, 0, ["/sparse", "/big", "/a/b/f13000"]),
                                ("ext2-1k", 1024, 0, ["/big", "/a/b/f13000", "/sparse"]),
                                ("ext4-4k", 4096, 2, ["/sparse", "/big"])]:
    img = os.path.join(work, name + ".img")
    data = open(img, "rb").read()
    for p in paths:
        at = inode_at(img, p, bs) + 0x28
        i_block = bytearray(data[at:at + 60])
        blocks = []
        if name.startswith("ext4"):
            i_block = renumber_extents(i_block, data, bs, blocks)
        else:
            for k, levels in [(12, 1), (13, 2), (14, 3)]:
                one = bytearray(i_block[4 * k:4 * k + 4])
                renumber_map(one, levels, data, bs, blocks)
                i_block[4 * k:4 * k + 4] = one
        seed = bytes(i_block) + bytes([shift]) + b"".join(blocks)
        open(os.path.join(out, "ext4_extent", name + p.replace("/", "_")), "wb").write(seed)
EOF
python3 - "$work" "$out" <<'EOF'
import os, re, subprocess, sys
work, out = sys.argv[1], sys.argv[2]
def debugfs(img, cmd):
    return subprocess.run(["debugfs", "-R", cmd, img], capture_output=True, text=True).stdout
def inode_at(img, path, bs):
    m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", debugfs(img, "imap " + path))
    return int(m.group(1)) * bs + int(m.group(2), 16)
def block_list(img, path):
    return [int(b) for b in re.findall(r"\d+", debugfs(img, "blocks " + path))]
# Directory seeds: blocks of the big (hash-indexed) directory and the
# root, with and without filetype; raw inodes holding inline directories.
for name, bs in [("ext4-1k", 1024), ("ext2-nofiletype", 1024), ("ext4-csum-1k", 1024), ("ext4-4k", 4096)]:
    img = os.path.join(work, name + ".img")
    data = open(img, "rb").read()
    for p in ["/", "/many"]:
        for i, b in enumerate(block_list(img, p)[:3]):
            open(os.path.join(out, "ext4_dir_block", f"{name}{p.replace('/', '_')}-{i}"), "wb").write(data[b * bs:(b + 1) * bs])
img = os.path.join(work, "ext4-inline.img")
data = open(img, "rb").read()
for p in ["/small", "/a", "/one"]:
    at = inode_at(img, p, 1024)
    open(os.path.join(out, "ext4_dir_block", "inline" + p.replace("/", "_")), "wb").write(data[at:at + 256])
EOF
ls -l "$out"/*
