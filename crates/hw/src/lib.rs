//! `idxd-hw`: the Intel DSA and IAA hardware interface as data.
//!
//! Register offsets and typed register values, the 64-byte descriptors and the completion
//! records (layouts identical to the kernel's `linux/idxd.h`), opcodes, flags, status and
//! error codes, capability decoding, the IAA compress AECS, PCI ids and device profiles.
//! No I/O beyond reading a profile file, no threads, no unsafe: the driver and the emulator
//! both build on this crate, so it is the one place where the two agree on what the hardware is.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bits;
mod codes;

pub mod aecs;
pub mod caps;
pub mod completion;
pub mod desc;
pub mod dsa_ops;
pub mod flags;
pub mod iaa_ops;
pub mod opcode;
pub mod pci;
pub mod portal;
pub mod profile;
pub mod regs;
pub mod status;
pub mod submit;
pub mod tables;

pub use aecs::{CompressAecs, HuffCode};
pub use caps::{CapRegisters, Capabilities};
pub use completion::{DsaCompletion, IaaCompletion};
pub use desc::{DsaDesc, IaaDesc};
pub use dsa_ops::{CrcSeed, DsaOp};
pub use flags::{CompressFlags, Crc64Flags, DecompressFlags, DescFlags, EndProcessing};
pub use iaa_ops::{AecsWrite, IaaOp};
pub use opcode::{DsaOpcode, IaaOpcode};
pub use pci::DeviceKind;
pub use profile::{Profile, ProfileError};
pub use status::{AnalyticsError, DsaStatus, IaaStatus, StatusByte};
pub use submit::{BuildError, Limits, RecordMode, Submit};
pub use tables::{GrpCfg, WqCfg, WqMode, WqState};

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
