#!/usr/bin/env bash
# Runs each fuzz target in turn for SECONDS_EACH seconds (default 600),
# niced, one process at a time, continuing past crashes, timeouts and
# OOMs (each saved under fuzz/artifacts/<target>/). Logs: fuzz/logs/.
# Usage: fuzz/run.sh [target...]   (build first: cargo +nightly fuzz build -O)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
secs=${SECONDS_EACH:-600}
bin=${FUZZ_BIN:-${CARGO_TARGET_DIR:-$here/target}/x86_64-unknown-linux-gnu/release}
[ -d seeds/ext4_walk ] || bash seeds.sh >/dev/null
[ -d seeds/container_vmdk ] || bash seeds-containers.sh >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ext4_walk ext4_extent ext4_dir_block ext4_journal)
max_len() {
    case $1 in
        ext4_walk) echo 1048576 ;;
        ext4_journal) echo 3145728 ;;
        ext4_extent) echo 16384 ;;
        ext4_dir_block) echo 8192 ;;
        container_vmdk | container_vhd) echo 524288 ;;
        container_qcow2) echo 262144 ;;
        container_vdi) echo 1114112 ;;
        container_vhdx) echo 4194304 ;;
        container_tar | container_gzip | container_xz | container_zstd) echo 262144 ;;
    esac
}
# Corpora of multi-MiB images alone take libFuzzer past 512 MB.
rss_mb() {
    case $1 in
        ext4_journal | container_vhdx) echo 2048 ;;
        *) echo 512 ;;
    esac
}
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    nice -n 10 "$bin/$t" "corpus/$t" "seeds/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$secs" -rss_limit_mb="$(rss_mb "$t")" -malloc_limit_mb=256 -timeout=10 -max_len="$(max_len "$t")" \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"logs/$t.log" 2>&1 || true
    tail -n 3 "logs/$t.log"
done
