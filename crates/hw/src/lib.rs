//! `idxd-hw`: the Intel DSA and IAA hardware interface as data.
//!
//! Register offsets and typed register values, the 64-byte descriptors and the completion
//! records (layouts identical to the kernel's `linux/idxd.h`), opcodes, flags, status and
//! error codes, capability decoding, the IAA compress AECS, PCI ids and device profiles.
//! No I/O, no threads, no unsafe: the driver and the emulator both build on this crate, so it
//! is the one place where the two agree on what the hardware is.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codes;

pub mod aecs;
pub mod flags;
pub mod opcode;
pub mod status;

pub use aecs::{CompressAecs, HuffCode};
pub use flags::{CompressFlags, Crc64Flags, DecompressFlags, DescFlags, EndProcessing};
pub use opcode::{DsaOpcode, IaaOpcode};
pub use status::{AnalyticsError, DsaStatus, IaaStatus, StatusByte};

/// Errors of the hardware model: values that do not describe anything the hardware can do.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HwError {
    /// A numeric code the hardware does not define.
    #[error("unknown {kind} code 0x{code:x}")]
    UnknownCode {
        /// Which table the code was looked up in.
        kind: &'static str,
        /// The raw value.
        code: u64,
    },
    /// A field value the hardware cannot take.
    #[error("invalid {field}: {value:#x}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// The offending value.
        value: u64,
    },
}
