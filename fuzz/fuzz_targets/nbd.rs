//! Fuzz the NBD server's negotiation and transmission: `cargo +nightly fuzz run nbd` (from the
//! repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    idxd_emu_fuzz::nbd_one(data);
});
