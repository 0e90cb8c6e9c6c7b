//! Shared test support: the emulator's mini driver.
#![allow(dead_code, unused_imports)]

pub use idxd_emu::testkit::{MiniDriver as Drv, WqSpec, PROFILES};
