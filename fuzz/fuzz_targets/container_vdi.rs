//! Fuzz target: salvage::container::vdi::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::vdi::fuzz(data);
});
