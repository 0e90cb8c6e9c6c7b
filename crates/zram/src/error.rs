//! Errors of the zram device.

use std::fmt;

/// Why a codec request (compression or decompression) failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The runtime reported an error for the request.
    #[error("the runtime failed the request")]
    Runtime(#[from] idxd_runtime::OffloadError),
    /// The data decompressed to something other than one page.
    #[error("decompressed to {0} bytes, not a page")]
    NotAPage(usize),
    /// The runtime gave no result for the request.
    #[error("no result from the runtime")]
    NoResult,
    /// No algorithm at this priority.
    #[error("no algorithm of priority {0}")]
    NoAlgorithm(usize),
}

/// Which backing-file operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackingOp {
    /// Reading a block.
    Read,
    /// Writing a block.
    Write,
}

impl fmt::Display for BackingOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackingOp::Read => "reading",
            BackingOp::Write => "writing",
        })
    }
}

/// Errors of [`crate::Zram`].
#[derive(Debug, thiserror::Error)]
pub enum ZramError {
    /// A request outside the device or not in whole 512-byte sectors (counted in `invalid_io`).
    #[error("invalid I/O: sector {sector}, {len} bytes on a device of {disksize} bytes")]
    InvalidIo {
        /// First sector.
        sector: u64,
        /// Length in bytes.
        len: u64,
        /// Device size in bytes.
        disksize: u64,
    },
    /// The pool would pass `mem_limit` (-ENOMEM; counted in `failed_writes`).
    #[error("out of memory: the pool would pass mem_limit")]
    NoMemory,
    /// Compression with algorithm `prio` failed (-EIO).
    #[error("compression with algorithm {prio} failed")]
    Compress {
        /// The algorithm's priority (0 primary).
        prio: usize,
        /// What went wrong.
        #[source]
        source: CodecError,
    },
    /// Decompression with algorithm `prio` failed (-EIO).
    #[error("decompression with algorithm {prio} failed")]
    Decompress {
        /// The algorithm's priority (0 primary).
        prio: usize,
        /// What went wrong.
        #[source]
        source: CodecError,
    },
    /// The pool could not give back a stored object (-EIO; a bug: slots own their handles).
    #[error("pool object unreadable")]
    Pool(#[from] idxd_zsmalloc::PoolError),
    /// The backing file has no free block left (-EIO).
    #[error("backing device full ({blocks} blocks)")]
    BackingFull {
        /// Blocks of the backing file.
        blocks: u64,
    },
    /// The writeback budget ran out (-EIO) after `written` pages.
    #[error("writeback limit reached after {written} pages")]
    WritebackLimit {
        /// Pages written before the budget ran out.
        written: u64,
    },
    /// An operation that needs a backing file, and none is set.
    #[error("no backing device")]
    NoBackingDevice,
    /// A bad parameter.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The backing file failed.
    #[error("backing file: {op} block {block}")]
    Backing {
        /// What was being done.
        op: BackingOp,
        /// The block.
        block: u64,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

impl ZramError {
    /// The errno a block client sees (positive).
    pub fn errno(&self) -> i32 {
        match self {
            ZramError::InvalidIo { .. } | ZramError::InvalidArgument(_) => 22, // EINVAL
            ZramError::NoMemory => 12,                                         // ENOMEM
            ZramError::NoBackingDevice => 19,                                  // ENODEV
            ZramError::Compress { .. }
            | ZramError::Decompress { .. }
            | ZramError::Pool(_)
            | ZramError::BackingFull { .. }
            | ZramError::WritebackLimit { .. }
            | ZramError::Backing { .. } => 5, // EIO
        }
    }

    /// Whether the codec failed (the runtime's error; the stored data is intact and the
    /// request may be retried).
    pub fn is_codec(&self) -> bool {
        matches!(self, ZramError::Compress { .. } | ZramError::Decompress { .. })
    }
}
