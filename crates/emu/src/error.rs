//! The emulator's error type.

use idxd_hw::ProfileError;

use crate::iommu::Fault;

/// Errors of the emulator's software-facing API (IOMMU management, device setup, portals).
///
/// Descriptor problems are never errors of this type: they become completion statuses.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EmuError {
    /// A mapping of length 0.
    #[error("zero-length IOMMU mapping at {iova:#x}")]
    ZeroLength {
        /// The IOVA asked for.
        iova: u64,
    },
    /// A mapping whose end lies beyond the 64-bit IOVA space (or whose host range wraps).
    #[error("IOMMU mapping {iova:#x}+{len:#x} wraps around the address space")]
    Wraparound {
        /// The IOVA asked for.
        iova: u64,
        /// The length asked for.
        len: u64,
    },
    /// A mapping that overlaps an existing one.
    #[error("IOMMU mapping {iova:#x}+{len:#x} overlaps the mapping at {existing:#x}")]
    Overlap {
        /// The IOVA asked for.
        iova: u64,
        /// The length asked for.
        len: u64,
        /// Start of the mapping it overlaps.
        existing: u64,
    },
    /// An unmap that does not name exactly one existing mapping.
    #[error("no IOMMU mapping exactly at {iova:#x}+{len:#x}")]
    NotMapped {
        /// The IOVA given.
        iova: u64,
        /// The length given.
        len: u64,
    },
    /// A null host pointer given to `map`.
    #[error("null host pointer for the IOMMU mapping at {iova:#x}")]
    NullHost {
        /// The IOVA asked for.
        iova: u64,
    },
    /// IOMMU-owned memory could not be allocated.
    #[error("cannot allocate {len} bytes of device memory")]
    OutOfMemory {
        /// The length asked for.
        len: u64,
    },
    /// An access through the IOMMU faulted.
    #[error(transparent)]
    Fault(#[from] Fault),
    /// A portal write at an offset that is not 64-byte aligned or lies outside BAR2.
    #[error("bad portal offset {offset:#x}")]
    BadPortal {
        /// The BAR2 offset.
        offset: u64,
    },
    /// A device profile could not be loaded.
    #[error(transparent)]
    Profile(ProfileError),
}
