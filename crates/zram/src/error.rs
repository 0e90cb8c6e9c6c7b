//! Errors of the zram device.

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
    /// Compression, decompression or the backing file failed (-EIO).
    #[error("I/O error: {0}")]
    Io(String),
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
    #[error("backing file: {0}")]
    Backing(#[from] std::io::Error),
}

impl ZramError {
    /// The errno a block client sees (positive).
    pub fn errno(&self) -> i32 {
        match self {
            ZramError::InvalidIo { .. } | ZramError::InvalidArgument(_) => 22, // EINVAL
            ZramError::NoMemory => 12,                                         // ENOMEM
            ZramError::NoBackingDevice => 19,                                  // ENODEV
            ZramError::Io(_) | ZramError::WritebackLimit { .. } | ZramError::Backing(_) => 5,
        }
    }
}
