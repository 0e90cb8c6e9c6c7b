//! `idxd-emu`: the software DSA/IAA device.
//!
//! A register-level emulator of Intel's DSA and IAA: BAR0 registers and the command state
//! machine, WQs and portals with MOVDIR64B/ENQCMD semantics, engines (threads or inline),
//! an IOMMU through which every device access is translated and checked, the DSA and IAA
//! operations (deflate, CRC64 and the record checksums come from the [`idxd_deflate`] engine,
//! which reports the hardware's error codes), deterministic fault injection and counters.
//! Drivers cannot tell it from the part except by speed; it is the only DSA/IAA CI has.

pub mod device;
pub mod error;
pub mod inject;
pub mod iommu;
pub mod ops;
pub mod testkit;

pub use error::EmuError;
