//! Test helpers shared with the zswap tests (corpus pages or generated ones, hashes, runtimes).
#![allow(dead_code, unused_imports)]

#[path = "../../../zswap/tests/common/mod.rs"]
mod shared;

pub use shared::*;
