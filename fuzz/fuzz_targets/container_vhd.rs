//! Fuzz target: salvage::container::vhd::fuzz (open from memory, read a few ranges).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    salvage::container::vhd::fuzz(data);
});
