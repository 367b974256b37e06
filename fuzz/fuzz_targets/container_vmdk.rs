//! Fuzz target: salvage::container::vmdk::fuzz (open from memory, read a few ranges).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::vmdk::fuzz(data);
});
