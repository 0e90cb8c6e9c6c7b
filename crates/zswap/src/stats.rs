//! The kernel's zswap counters (debugfs `/sys/kernel/debug/zswap/*`) and parameters
//! (`/sys/module/zswap/parameters/*`), printed as `name value` lines.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of every counter, under the kernel's names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZswapStats {
    /// Stores refused because the pool was at its limit.
    pub pool_limit_hit: u64,
    /// Writebacks that failed (entry busy, decompression or swap-file error).
    pub reject_reclaim_fail: u64,
    /// Stores refused because the pool could not allocate.
    pub reject_alloc_fail: u64,
    /// Stores refused because the entry could not be allocated (always 0 here).
    pub reject_kmemcache_fail: u64,
    /// Stores refused on a compressor error (writeback off).
    pub reject_compress_fail: u64,
    /// Stores refused because a page did not compress below one page (writeback off).
    pub reject_compress_poor: u64,
    /// Loads whose decompression failed.
    pub decompress_fail: u64,
    /// Entries written to the swap file.
    pub written_back_pages: u64,
    /// Bytes of pool pages (zsmalloc pages held, times the page size).
    pub pool_total_size: u64,
    /// Entries held now.
    pub stored_pages: u64,
    /// Entries held raw (length == page size) now.
    pub stored_incompressible_pages: u64,
}

impl ZswapStats {
    /// `(name, value)` in the kernel's order.
    pub fn fields(&self) -> [(&'static str, u64); 11] {
        [
            ("pool_limit_hit", self.pool_limit_hit),
            ("reject_reclaim_fail", self.reject_reclaim_fail),
            ("reject_alloc_fail", self.reject_alloc_fail),
            ("reject_kmemcache_fail", self.reject_kmemcache_fail),
            ("reject_compress_fail", self.reject_compress_fail),
            ("reject_compress_poor", self.reject_compress_poor),
            ("decompress_fail", self.decompress_fail),
            ("written_back_pages", self.written_back_pages),
            ("pool_total_size", self.pool_total_size),
            ("stored_pages", self.stored_pages),
            ("stored_incompressible_pages", self.stored_incompressible_pages),
        ]
    }
}

impl fmt::Display for ZswapStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.fields() {
            writeln!(f, "{name} {value}")?;
        }
        Ok(())
    }
}

/// The module parameters, printed as the kernel prints them (`Y`/`N` for booleans).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZswapParams {
    /// `enabled`.
    pub enabled: bool,
    /// `compressor`: the runtime's algorithm name.
    pub compressor: String,
    /// `max_pool_percent`.
    pub max_pool_percent: u32,
    /// `accept_threshold_percent`.
    pub accept_threshold_percent: u32,
    /// `shrinker_enabled`.
    pub shrinker_enabled: bool,
}

impl fmt::Display for ZswapParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yn = |b: bool| if b { "Y" } else { "N" };
        writeln!(f, "enabled {}", yn(self.enabled))?;
        writeln!(f, "compressor {}", self.compressor)?;
        writeln!(f, "max_pool_percent {}", self.max_pool_percent)?;
        writeln!(f, "accept_threshold_percent {}", self.accept_threshold_percent)?;
        writeln!(f, "shrinker_enabled {}", yn(self.shrinker_enabled))
    }
}

/// The cache's live counters (the pool size is computed at snapshot time).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub pool_limit_hit: AtomicU64,
    pub reject_alloc_fail: AtomicU64,
    pub reject_compress_fail: AtomicU64,
    pub reject_compress_poor: AtomicU64,
    pub decompress_fail: AtomicU64,
    pub stored_pages: AtomicU64,
    pub stored_incompressible_pages: AtomicU64,
}

/// The writeback path's counters.
#[derive(Debug, Default)]
pub(crate) struct WritebackCounters {
    pub reject_reclaim_fail: AtomicU64,
    pub written_back_pages: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn dec(c: &AtomicU64) {
    c.fetch_sub(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self, pool_pages: u64, wb: &WritebackCounters) -> ZswapStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ZswapStats {
            pool_limit_hit: r(&self.pool_limit_hit),
            reject_reclaim_fail: r(&wb.reject_reclaim_fail),
            reject_alloc_fail: r(&self.reject_alloc_fail),
            reject_kmemcache_fail: 0,
            reject_compress_fail: r(&self.reject_compress_fail),
            reject_compress_poor: r(&self.reject_compress_poor),
            decompress_fail: r(&self.decompress_fail),
            written_back_pages: r(&wb.written_back_pages),
            pool_total_size: pool_pages * 4096,
            stored_pages: r(&self.stored_pages),
            stored_incompressible_pages: r(&self.stored_incompressible_pages),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_kernel_form() {
        let s = ZswapStats {
            stored_pages: 3,
            pool_total_size: 8192,
            ..Default::default()
        };
        let text = s.to_string();
        assert!(text.starts_with("pool_limit_hit 0\nreject_reclaim_fail 0\n"));
        assert!(text.contains("\npool_total_size 8192\nstored_pages 3\n"));
        assert!(text.ends_with("stored_incompressible_pages 0\n"));
        assert_eq!(text.lines().count(), 11);
    }
}
