//! Fuzz target: salvage::container::tar::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::tar::fuzz(data);
});
