//! Fuzz target: salvage::container::zstd::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::zstd::fuzz(data);
});
