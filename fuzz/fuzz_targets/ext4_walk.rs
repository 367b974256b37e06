//! Fuzz target: salvage::fs::ext4::fuzzing::ext4_walk (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = salvage::fs::ext4::fuzzing::ext4_walk(data);
});
