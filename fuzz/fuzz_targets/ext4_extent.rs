//! Fuzz target: salvage::fs::ext4::fuzzing::ext4_extent (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::fs::ext4::fuzzing::ext4_extent(data);
});
