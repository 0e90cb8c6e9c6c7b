//! `idxd-emu`: the software DSA/IAA device.
//!
//! This crate currently holds the IAA compression engine ([`engine`]); the register-level
//! device model lands on top of it.

/// The IAA compression engine: deflate, CRC and checksums with the hardware's semantics.
pub mod engine;

pub mod error;
pub mod iommu;
pub mod ops;

pub use error::EmuError;
