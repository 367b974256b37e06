#!/usr/bin/env bash
# Per-byte costs of the export's primitives in wasm (V8 via node), to see
# where the in-browser export's time goes: SHA-256 (sha2, software in
# wasm), CRC-32 (crc32fast, table-driven in wasm) and a 1 MiB memcpy, each
# built as in the app (release, LTO) and with +simd128 for comparison.
#
#   bash scripts/bench-wasm-primitives.sh
#
# Builds a throwaway crate in a temporary folder with this repository's
# Cargo.lock (same sha2/crc32fast versions), offline; needs the
# wasm32-unknown-unknown target and node.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cp "$here/Cargo.lock" "$dir/"
cat > "$dir/Cargo.toml" <<'EOF'
[package]
name = "wasmbench"
version = "0.1.0"
edition = "2021"
[lib]
crate-type = ["cdylib"]
[dependencies]
sha2 = "0.10"
crc32fast = "1"
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
EOF
cat > "$dir/src/lib.rs" <<'EOF'
use sha2::{Digest, Sha256};
use std::hint::black_box;
fn buf() -> Vec<u8> { (0..(1usize << 20)).map(|i| (i * 31 + i / 7) as u8).collect() }
#[no_mangle] pub extern "C" fn sha(mib: u32) -> u32 { let b = buf(); let mut h = Sha256::new(); for _ in 0..mib { h.update(black_box(&b)); } h.finalize()[0] as u32 }
#[no_mangle] pub extern "C" fn crc(mib: u32) -> u32 { let b = buf(); let mut h = crc32fast::Hasher::new(); for _ in 0..mib { h.update(black_box(&b)); } h.finalize() }
#[no_mangle] pub extern "C" fn copy(mib: u32) -> u32 { let b = buf(); let mut d = vec![0u8; 1 << 20]; for _ in 0..mib { black_box(&mut d).copy_from_slice(black_box(&b)); } d[12345] as u32 }
EOF
cat > "$dir/run.mjs" <<'EOF'
import { readFileSync } from 'node:fs';
const [label, file] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
for (const fn of ['sha', 'crc', 'copy']) {
  instance.exports[fn](16);
  let best = Infinity;
  for (let i = 0; i < 3; i++) { const t = performance.now(); instance.exports[fn](256); best = Math.min(best, performance.now() - t); }
  console.log(`| ${label.padEnd(14)} | ${fn.padEnd(6)} | ${(256 * 1048576 / 1e6 / (best / 1000)).toFixed(0).padStart(7)} |`);
}
EOF
echo "| build          | what   | MB/s    |"
echo "|----------------|--------|---------|"
for variant in "baseline:" "simd128:-C target-feature=+simd128"; do
    label=${variant%%:*} flags=${variant#*:}
    (cd "$dir" && CARGO_TARGET_DIR="$dir/t-$label" RUSTFLAGS="$flags" cargo build --offline --release --target wasm32-unknown-unknown -q)
    node "$dir/run.mjs" "$label" "$dir/t-$label/wasm32-unknown-unknown/release/wasmbench.wasm"
done
