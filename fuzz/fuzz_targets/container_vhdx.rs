//! Fuzz target: salvage::container::vhdx::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::vhdx::fuzz(data);
});
