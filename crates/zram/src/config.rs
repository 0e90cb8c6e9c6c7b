//! Building a device: disksize, the primary and secondary algorithms (each a runtime), the
//! backing file, the memory limit, the huge class.

use std::fs::File;

use idxd_runtime::Runtime;
use idxd_zsmalloc::{SizeClasses, PAGE_SIZE};

use crate::device::{DeviceParams, Zram};
use crate::error::ZramError;

/// Most secondary (recompression) algorithms, as in the kernel.
pub const MAX_SECONDARY: usize = 3;

/// Builder of a [`Zram`] device (the sysfs steps that must precede `disksize`).
pub struct ZramBuilder {
    disksize: u64,
    comps: Vec<Runtime>,
    backing: Option<File>,
    mem_limit: u64,
    huge_class_size: Option<usize>,
    batch_size: usize,
    writeback_compressed: bool,
}

impl std::fmt::Debug for ZramBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZramBuilder")
            .field("disksize", &self.disksize)
            .field("algorithms", &self.comps.len())
            .field("backing", &self.backing.is_some())
            .field("mem_limit", &self.mem_limit)
            .finish()
    }
}

impl ZramBuilder {
    /// A device of `disksize` bytes (rounded up to whole pages) compressing with `comp`.
    pub fn new(disksize: u64, comp: Runtime) -> Self {
        ZramBuilder {
            disksize,
            comps: vec![comp],
            backing: None,
            mem_limit: 0,
            huge_class_size: None,
            batch_size: 8,
            writeback_compressed: false,
        }
    }

    /// Adds a secondary algorithm (`recomp_algorithm`), priorities 1, 2, 3 in call order.
    pub fn recomp_algorithm(mut self, rt: Runtime) -> Self {
        self.comps.push(rt);
        self
    }

    /// The backing device (`backing_dev`) for writeback.
    pub fn backing_file(mut self, f: File) -> Self {
        self.backing = Some(f);
        self
    }

    /// `mem_limit` in bytes (0: none).
    pub fn mem_limit(mut self, bytes: u64) -> Self {
        self.mem_limit = bytes;
        self
    }

    /// Compressed sizes at or above this are stored raw (default: zsmalloc's huge class size).
    pub fn huge_class_size(mut self, bytes: usize) -> Self {
        self.huge_class_size = Some(bytes);
        self
    }

    /// Pages compressed per runtime call on multi-page writes (default 8).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Write compressed bytes to the backing file instead of the decompressed page.
    pub fn writeback_compressed(mut self, on: bool) -> Self {
        self.writeback_compressed = on;
        self
    }

    /// Creates the device.
    pub fn build(self) -> Result<Zram, ZramError> {
        if self.disksize == 0 || self.disksize > (1u64 << 44) {
            return Err(ZramError::InvalidArgument(format!("disksize {}", self.disksize)));
        }
        if self.comps.len() > 1 + MAX_SECONDARY {
            return Err(ZramError::InvalidArgument(format!(
                "at most {MAX_SECONDARY} secondary algorithms"
            )));
        }
        if self.batch_size == 0 || self.batch_size > 512 {
            return Err(ZramError::InvalidArgument(format!(
                "batch_size {}",
                self.batch_size
            )));
        }
        let huge = self
            .huge_class_size
            .unwrap_or_else(|| SizeClasses::new().huge_class_size());
        if huge == 0 || huge > PAGE_SIZE {
            return Err(ZramError::InvalidArgument(format!("huge_class_size {huge}")));
        }
        Ok(Zram::new(DeviceParams {
            disksize: self.disksize,
            comps: self.comps,
            backing: self.backing,
            mem_limit: self.mem_limit,
            huge_class_size: huge,
            batch_size: self.batch_size,
            writeback_compressed: self.writeback_compressed,
        }))
    }
}
