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

/// Why stored bytes could not be turned back into a page.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The pool does not know the entry's handle (a bug: entries own their handles).
    #[error("pool object unreadable")]
    Pool(#[from] idxd_zsmalloc::PoolError),
    /// The runtime reported an error for the request.
    #[error("the runtime failed the request")]
    Runtime(#[from] idxd_runtime::OffloadError),
    /// The data decompressed to something other than one page.
    #[error("decompressed to {0} bytes, not a page")]
    NotAPage(usize),
    /// The runtime gave no result for the request.
    #[error("no result from the runtime")]
    NoResult,
}

/// Which swap-file operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapOp {
    /// Extending the file to the swap area's size.
    Resize,
    /// Reading a page.
    Read,
    /// Writing pages.
    Write,
}

impl fmt::Display for SwapOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwapOp::Resize => "resizing",
            SwapOp::Read => "reading",
            SwapOp::Write => "writing",
        })
    }
}

/// A configuration value that makes no sense.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `max_pool_percent` above 100.
    #[error("max_pool_percent {0} > 100")]
    MaxPoolPercent(u32),
    /// `accept_threshold_percent` above 100.
    #[error("accept_threshold_percent {0} > 100")]
    AcceptThresholdPercent(u32),
    /// `batch_size` outside 1 to 512.
    #[error("batch_size {0} not in 1..=512")]
    BatchSize(usize),
    /// `swap_slots` zero or too large for byte offsets.
    #[error("swap_slots {0} not in 1..2^51")]
    SwapSlots(u64),
    /// An asynchronous store without workers or queue.
    #[error("async store needs workers >= 1 and depth >= 1 (got {workers} and {depth})")]
    AsyncStore {
        /// Workers asked for.
        workers: usize,
        /// Queue depth asked for.
        depth: usize,
    },
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
    #[error("decompression failed at offset {offset}")]
    Io {
        /// The swap offset.
        offset: u64,
        /// What went wrong.
        #[source]
        source: DecodeError,
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
    #[error("invalid zswap configuration")]
    Config(#[from] ConfigError),
    /// The swap file failed.
    #[error("swap file: {op} at slot {offset}")]
    SwapFile {
        /// What was being done.
        op: SwapOp,
        /// The swap slot (for `Resize`, the slot count asked for).
        offset: u64,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A worker thread could not be started.
    #[error("cannot start thread {name}")]
    Spawn {
        /// The thread's name.
        name: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
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
            ZswapError::Io { .. } | ZswapError::SwapFile { .. } => 5, // EIO
            ZswapError::Spawn { .. } => 11,                         // EAGAIN
            ZswapError::Busy(_) => 16,                              // EBUSY
            ZswapError::InvalidLength { .. }
            | ZswapError::OutOfRange { .. }
            | ZswapError::Config(_)
            | ZswapError::NoSwapFile => 22,
        }
    }
}
