//! Fuzz target: salvage::container::gzip::fuzz (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::gzip::fuzz(data);
});
