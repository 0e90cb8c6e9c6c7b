//! The BAR0 register map: offsets and typed values for every register the driver and emulator
//! use. Each type decodes from and encodes to its raw value; bits the hardware reserves are
//! dropped on decode and written as zero on encode (`DEFINED` masks say which bits are kept).
//!
//! By idea: [`off`] and the table constants here, the capability registers in `cap`, device
//! configuration/control/status in `control`, commands and their status in `cmd`, the
//! software error register in `swerr`. Everything is re-exported at `idxd_hw::regs::*`.

mod cap;
mod cmd;
mod control;
mod swerr;

pub use cap::*;
pub use cmd::*;
pub use control::*;
pub use swerr::*;

/// Register offsets in BAR0.
pub mod off {
    /// VERSION (32).
    pub const VERSION: u64 = 0x00;
    /// GENCAP (64).
    pub const GENCAP: u64 = 0x10;
    /// WQCAP (64).
    pub const WQCAP: u64 = 0x20;
    /// GRPCAP (64).
    pub const GRPCAP: u64 = 0x30;
    /// ENGCAP (64).
    pub const ENGCAP: u64 = 0x38;
    /// OPCAP (4 x 64).
    pub const OPCAP: u64 = 0x40;
    /// OFFSETS (2 x 64).
    pub const OFFSETS: u64 = 0x60;
    /// GENCFG (32).
    pub const GENCFG: u64 = 0x80;
    /// GENCTRL (32).
    pub const GENCTRL: u64 = 0x88;
    /// GENSTS (32).
    pub const GENSTS: u64 = 0x90;
    /// INTCAUSE (32, write 1 to clear).
    pub const INTCAUSE: u64 = 0x98;
    /// CMD (32).
    pub const CMD: u64 = 0xa0;
    /// CMDSTS (32).
    pub const CMDSTS: u64 = 0xa8;
    /// CMDCAP (32).
    pub const CMDCAP: u64 = 0xb0;
    /// SWERR (4 x 64).
    pub const SWERR: u64 = 0xc0;
    /// EVLCFG (2 x 64): event log configuration (GENCAP \[14:13\] non-zero).
    pub const EVLCFG: u64 = 0xe0;
    /// EVLSTATUS (64): event log head, tail, interrupt pending.
    pub const EVLSTATUS: u64 = 0xf0;
    /// IAACAP (IAA >= 2.0) / DSACAP0 (DSA >= 3.0).
    pub const IAACAP: u64 = 0x180;
}

/// Multiplier of the OFFSETS fields: each value x 0x100 is a byte offset in BAR0.
pub const TABLE_MULT: u64 = 0x100;
/// Size of one GRPCFG entry.
pub const GRPCFG_ENTRY_SIZE: u64 = 64;
/// Size of one MSI-X permission entry.
pub const MSIX_PERM_ENTRY_SIZE: u64 = 8;
