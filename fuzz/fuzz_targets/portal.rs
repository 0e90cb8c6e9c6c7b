//! Fuzz descriptors written to an emulated device's portal: `cargo +nightly fuzz run portal` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idxd_emu_fuzz::portal_one(data);
});
