//! Errors of the zswap frontend.

use std::fmt;

/// Why a store was refused (each maps to the kernel's counter, where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// zswap is disabled (`enabled = N`): no counter.
    Disabled,
    /// The pool is at its limit or inside the hysteresis band (`pool_limit_hit` counts the
    /// stores refused while at the limit itself).
    PoolLimit,
    /// A page did not compress below one page and writeback is off (`reject_compress_poor`).
    CompressPoor,
    /// The compressor reported an error and writeback is off (`reject_compress_fail`).
    CompressFail,
    /// The pool could not allocate (`reject_alloc_fail`).
    AllocFail,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::Disabled => "disabled",
            RejectReason::PoolLimit => "pool_limit",
            RejectReason::CompressPoor => "compress_poor",
            RejectReason::CompressFail => "compress_fail",
            RejectReason::AllocFail => "alloc_fail",
        })
    }
}

/// Errors of [`crate::Zswap`].
#[derive(Debug, thiserror::Error)]
pub enum ZswapError {
    /// The folio was not stored; every entry at its offsets was dropped.
    #[error("store rejected: {0}")]
    Rejected(RejectReason),
    /// No entry at this offset (-ENOENT).
    #[error("no entry at offset {0}")]
    NotFound(u64),
    /// Decompression failed (-EIO); the entry is kept.
    #[error("decompression failed at offset {offset}: {detail}")]
    Io {
        /// The swap offset.
        offset: u64,
        /// What the runtime reported.
        detail: String,
    },
    /// Another load of the same offset is in progress (-EBUSY).
    #[error("offset {0} is being loaded by another thread")]
    Busy(u64),
    /// A folio whose length is not 1 to 512 whole pages, or a buffer that is not one page.
    #[error("invalid length {len}: {what}")]
    InvalidLength {
        /// The length given.
        len: usize,
        /// What was expected.
        what: &'static str,
    },
    /// Offsets past the configured swap area.
    #[error("offsets {offset}..{end} outside the swap area of {slots} slots")]
    OutOfRange {
        /// First offset.
        offset: u64,
        /// One past the last offset.
        end: u64,
        /// Slots in the swap area.
        slots: u64,
    },
    /// A configuration value that makes no sense.
    #[error("invalid zswap configuration: {0}")]
    Config(String),
    /// The swap file failed.
    #[error("swap file: {0}")]
    SwapIo(#[from] std::io::Error),
    /// The operation needs a swap file and none is configured.
    #[error("no swap file configured")]
    NoSwapFile,
}

impl ZswapError {
    /// The kernel's errno for this error (positive).
    pub fn errno(&self) -> i32 {
        match self {
            ZswapError::Rejected(RejectReason::CompressPoor) => 28, // ENOSPC
            ZswapError::Rejected(RejectReason::AllocFail) => 12,    // ENOMEM
            ZswapError::Rejected(_) => 22,                          // EINVAL
            ZswapError::NotFound(_) => 2,                           // ENOENT
            ZswapError::Io { .. } | ZswapError::SwapIo(_) => 5,     // EIO
            ZswapError::Busy(_) => 16,                              // EBUSY
            ZswapError::InvalidLength { .. }
            | ZswapError::OutOfRange { .. }
            | ZswapError::Config(_)
            | ZswapError::NoSwapFile => 22,
        }
    }
}
