//! Fuzz target: salvage::container::xz::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::xz::fuzz(data);
});
