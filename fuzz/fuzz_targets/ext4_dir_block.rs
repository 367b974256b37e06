//! Fuzz target: salvage::fs::ext4::fuzzing::ext4_dir_block (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::fs::ext4::fuzzing::ext4_dir_block(data);
});
