//! Fuzz the engine's inflater: `cargo +nightly fuzz run inflate` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idxd_emu_fuzz::inflate_one(data);
});
