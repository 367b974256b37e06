//! Fuzz target: salvage::volume::lvm::fuzz_metadata (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::volume::lvm::fuzz_metadata(data);
});
