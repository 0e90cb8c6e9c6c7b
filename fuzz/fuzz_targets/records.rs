//! Fuzz completion records read back by the driver and the runtime: `cargo +nightly fuzz run records` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idxd_emu_fuzz::records_one(data);
});
