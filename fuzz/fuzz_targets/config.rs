//! Fuzz the TOML and accel-config JSON parsers: `cargo +nightly fuzz run config` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idxd_emu_fuzz::config_one(data);
});
