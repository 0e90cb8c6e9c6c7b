//! What every descriptor carries besides its operation: where and when to write the completion
//! record, the interrupt, ordering and fault behaviour, PASID. Shared by the DSA and IAA
//! builders.

use crate::flags::DescFlags;

/// When the device writes the completion record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RecordMode {
    /// No record (neither CRAV nor RCR): only sensible with an interrupt, or in a batch.
    None,
    /// Only on error (CRAV without RCR).
    OnError,
    /// Always (CRAV and RCR): what drivers that poll do.
    #[default]
    Always,
}

/// The non-operation part of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Submit {
    /// Completion record address (I/O virtual address).
    pub completion_addr: u64,
    /// When to write the record.
    pub record: RecordMode,
    /// Request a completion interrupt with this handle.
    pub interrupt: Option<u16>,
    /// Fence (meaningful inside a batch).
    pub fence: bool,
    /// Block on page faults instead of completing partially.
    pub block_on_fault: bool,
    /// Cache control: allocate destination writes in the cache.
    pub cache_control: bool,
    /// PASID (20 bits); 0 for a vfio-pci driver using IOVAs.
    pub pasid: u32,
    /// Privileged (supervisor) request.
    pub privileged: bool,
}

impl Submit {
    /// A record always written at `completion_addr`, nothing else.
    pub fn polled(completion_addr: u64) -> Self {
        Submit {
            completion_addr,
            ..Default::default()
        }
    }

    /// The flags this part contributes.
    pub(crate) fn flags(&self) -> DescFlags {
        let mut f = DescFlags::empty();
        match self.record {
            RecordMode::None => {}
            RecordMode::OnError => f |= DescFlags::CRAV,
            RecordMode::Always => f |= DescFlags::CRAV | DescFlags::RCR,
        }
        f.set(DescFlags::RCI, self.interrupt.is_some());
        f.set(DescFlags::FENCE, self.fence);
        f.set(DescFlags::BLOCK_ON_FAULT, self.block_on_fault);
        f.set(DescFlags::CACHE_CONTROL, self.cache_control);
        f
    }

    /// Reads this part back from descriptor fields.
    pub(crate) fn decode(
        completion_addr: u64,
        flags: DescFlags,
        int_handle: u16,
        pasid: u32,
        privileged: bool,
    ) -> Self {
        let record = if flags.contains(DescFlags::RCR) {
            RecordMode::Always
        } else if flags.contains(DescFlags::CRAV) {
            RecordMode::OnError
        } else {
            RecordMode::None
        };
        Submit {
            completion_addr,
            record,
            interrupt: flags.contains(DescFlags::RCI).then_some(int_handle),
            fence: flags.contains(DescFlags::FENCE),
            block_on_fault: flags.contains(DescFlags::BLOCK_ON_FAULT),
            cache_control: flags.contains(DescFlags::CACHE_CONTROL),
            pasid,
            privileged,
        }
    }
}

/// The limits a descriptor is checked against: the WQ's (or device's) maximum transfer and
/// batch sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest transfer size in bytes.
    pub max_transfer: u64,
    /// Largest batch (descriptor count); 0 when batches are not supported.
    pub max_batch: u32,
}

impl Limits {
    /// Limits from the two shifts of GENCAP or WQCFG (a batch shift of 0 means no batch).
    pub fn from_shifts(max_xfer_shift: u8, max_batch_shift: u8) -> Self {
        Limits {
            max_transfer: 1u64 << max_xfer_shift.min(63),
            max_batch: if max_batch_shift == 0 {
                0
            } else {
                1u32 << max_batch_shift.min(31)
            },
        }
    }
}

/// Why a descriptor cannot be built.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A transfer of zero bytes.
    #[error("{op}: transfer size is zero")]
    ZeroTransfer {
        /// The operation.
        op: &'static str,
    },
    /// A transfer larger than the limit.
    #[error("{op}: transfer size {size} exceeds the maximum {max}")]
    TransferTooLarge {
        /// The operation.
        op: &'static str,
        /// Requested size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// An address that must be aligned is not.
    #[error("{what} address {addr:#x} is not {align}-byte aligned")]
    Misaligned {
        /// Which address.
        what: &'static str,
        /// The address.
        addr: u64,
        /// Required alignment.
        align: u64,
    },
    /// A batch count outside [2, max].
    #[error("batch descriptor count {count} outside [2, {max}]")]
    BatchCount {
        /// Requested count.
        count: u32,
        /// Maximum the WQ allows (0: batches unsupported).
        max: u32,
    },
    /// A field value outside its range.
    #[error("{what}: {value:#x} is out of range")]
    OutOfRange {
        /// Which field.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// A flag the operation does not allow.
    #[error("{op}: {why}")]
    InvalidFlags {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

/// Checks a transfer size against `[1, max]`.
pub(crate) fn check_len(op: &'static str, len: u32, limits: &Limits) -> Result<(), BuildError> {
    if len == 0 {
        return Err(BuildError::ZeroTransfer { op });
    }
    if len as u64 > limits.max_transfer {
        return Err(BuildError::TransferTooLarge {
            op,
            size: len as u64,
            max: limits.max_transfer,
        });
    }
    Ok(())
}

/// Checks `addr % align == 0`.
pub(crate) fn check_align(what: &'static str, addr: u64, align: u64) -> Result<(), BuildError> {
    if addr % align != 0 {
        return Err(BuildError::Misaligned { what, addr, align });
    }
    Ok(())
}

/// Checks the common part: PASID width and record alignment.
pub(crate) fn check_submit(s: &Submit, record_align: u64) -> Result<(), BuildError> {
    if s.pasid > crate::desc::PASID_MASK {
        return Err(BuildError::OutOfRange {
            what: "PASID",
            value: s.pasid as u64,
        });
    }
    if s.record != RecordMode::None {
        check_align("completion record", s.completion_addr, record_align)?;
    }
    Ok(())
}
