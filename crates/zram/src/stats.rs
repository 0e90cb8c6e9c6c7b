//! The kernel's zram stat files: `mm_stat`, `io_stat`, `bd_stat`, `debug_stat`, each in the
//! kernel's column order and `%8llu` format.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// `mm_stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmStat {
    /// Uncompressed bytes stored (pages stored, same-filled and written-back ones included).
    pub orig_data_size: u64,
    /// Compressed bytes stored (a huge page counts a page).
    pub compr_data_size: u64,
    /// Bytes of pool pages (allocator overhead included).
    pub mem_used_total: u64,
    /// The memory limit in bytes (0: none).
    pub mem_limit: u64,
    /// Most pool bytes ever used (resettable).
    pub mem_used_max: u64,
    /// Same-filled pages stored (no memory allocated).
    pub same_pages: u64,
    /// Pages freed by compaction.
    pub pages_compacted: u64,
    /// Incompressible pages stored raw now.
    pub huge_pages: u64,
    /// Incompressible pages stored raw since the device was created.
    pub huge_pages_since: u64,
}

impl fmt::Display for MmStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:8} {:8} {:8} {:8} {:8} {:8} {:8} {:8} {:8}",
            self.orig_data_size,
            self.compr_data_size,
            self.mem_used_total,
            self.mem_limit,
            self.mem_used_max,
            self.same_pages,
            self.pages_compacted,
            self.huge_pages,
            self.huge_pages_since
        )
    }
}

/// `io_stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoStat {
    /// Reads that failed.
    pub failed_reads: u64,
    /// Writes that failed.
    pub failed_writes: u64,
    /// Requests outside the device or not in whole sectors.
    pub invalid_io: u64,
    /// Pages freed by discard or slot-free notification.
    pub notify_free: u64,
}

impl fmt::Display for IoStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:8} {:8} {:8} {:8}",
            self.failed_reads, self.failed_writes, self.invalid_io, self.notify_free
        )
    }
}

/// `bd_stat`, in 4 KiB units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BdStat {
    /// Pages on the backing device now.
    pub bd_count: u64,
    /// Pages read from the backing device.
    pub bd_reads: u64,
    /// Pages written to the backing device.
    pub bd_writes: u64,
}

impl fmt::Display for BdStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:8} {:8} {:8}", self.bd_count, self.bd_reads, self.bd_writes)
    }
}

/// `debug_stat` (version 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugStat {
    /// Writes that had to wait for a compression context (none here: contexts are created on
    /// demand, so always 0, as in kernels that dropped the slow path).
    pub writestall: u64,
    /// Slot-free notifications that found the slot locked and were skipped.
    pub miss_free: u64,
}

impl fmt::Display for DebugStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "version: 1\n{:8} {:8}\n", self.writestall, self.miss_free)
    }
}

/// Live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub pages_stored: AtomicU64,
    pub compr_data_size: AtomicU64,
    pub same_pages: AtomicU64,
    pub huge_pages: AtomicU64,
    pub huge_pages_since: AtomicU64,
    pub max_used_pages: AtomicU64,
    pub failed_reads: AtomicU64,
    pub failed_writes: AtomicU64,
    pub invalid_io: AtomicU64,
    pub notify_free: AtomicU64,
    pub miss_free: AtomicU64,
    pub bd_count: AtomicU64,
    pub bd_reads: AtomicU64,
    pub bd_writes: AtomicU64,
    pub num_reads: AtomicU64,
    pub num_writes: AtomicU64,
}

pub(crate) fn add(c: &AtomicU64, v: u64) {
    c.fetch_add(v, Ordering::Relaxed);
}

pub(crate) fn sub(c: &AtomicU64, v: u64) {
    c.fetch_sub(v, Ordering::Relaxed);
}

pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_formats() {
        let m = MmStat {
            orig_data_size: 4096,
            same_pages: 1,
            ..Default::default()
        };
        assert_eq!(
            m.to_string(),
            "    4096        0        0        0        0        1        0        0        0\n"
        );
        let i = IoStat {
            notify_free: 3,
            ..Default::default()
        };
        assert_eq!(i.to_string(), "       0        0        0        3\n");
        assert_eq!(BdStat::default().to_string(), "       0        0        0\n");
        assert_eq!(
            DebugStat::default().to_string(),
            "version: 1\n       0        0\n"
        );
    }
}
