//! Fuzz target: salvage::container::qcow2::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::qcow2::fuzz(data);
});
