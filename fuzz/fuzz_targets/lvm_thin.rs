//! Fuzz target: salvage::volume::lvm::thin::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::volume::lvm::thin::fuzz(data);
});
