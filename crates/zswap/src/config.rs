//! Parameters of a zswap instance (the kernel's module parameters, plus what user space must
//! say explicitly: how much "RAM" the percentages refer to and how big the swap area is).

use crate::error::{ConfigError, ZswapError};

/// Pages a folio may hold (a PMD-sized folio of 4 KiB pages).
pub const MAX_FOLIO_PAGES: usize = 512;

/// Configuration of [`crate::Zswap`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZswapConfig {
    /// `enabled`: stores are refused (without a counter) when false.
    pub enabled: bool,
    /// The memory size `max_pool_percent` refers to (the kernel's `totalram_pages`).
    pub memory_bytes: u64,
    /// `max_pool_percent` (default 20).
    pub max_pool_percent: u32,
    /// `accept_threshold_percent` (default 90).
    pub accept_threshold_percent: u32,
    /// `shrinker_enabled`: a background thread writes entries back, oldest first, when the
    /// pool hits its limit. When false, [`crate::Zswap::shrink`] does it on demand.
    pub shrinker_enabled: bool,
    /// Whether entries may be written back (the memcg's `memory.zswap.writeback`). Takes effect
    /// only with a swap file; it also decides whether incompressible pages are stored raw.
    pub writeback_enabled: bool,
    /// Pages compressed per runtime call (`ZSWAP_MAX_BATCH_SIZE`, default 8).
    pub batch_size: usize,
    /// Slots (4 KiB pages) of the swap area: offsets must be below this.
    pub swap_slots: u64,
}

impl Default for ZswapConfig {
    fn default() -> Self {
        ZswapConfig {
            enabled: true,
            memory_bytes: 1 << 30,
            max_pool_percent: 20,
            accept_threshold_percent: 90,
            shrinker_enabled: true,
            writeback_enabled: true,
            batch_size: 8,
            swap_slots: 1 << 20,
        }
    }
}

impl ZswapConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), ZswapError> {
        if self.max_pool_percent > 100 {
            return Err(ConfigError::MaxPoolPercent(self.max_pool_percent).into());
        }
        if self.accept_threshold_percent > 100 {
            return Err(ConfigError::AcceptThresholdPercent(self.accept_threshold_percent).into());
        }
        if self.batch_size == 0 || self.batch_size > MAX_FOLIO_PAGES {
            return Err(ConfigError::BatchSize(self.batch_size).into());
        }
        if self.swap_slots == 0 || self.swap_slots > (u64::MAX >> 13) {
            return Err(ConfigError::SwapSlots(self.swap_slots).into());
        }
        Ok(())
    }

    /// `zswap_max_pages()`: the pool limit in pages.
    pub fn max_pages(&self) -> u64 {
        (self.memory_bytes / 4096).saturating_mul(self.max_pool_percent as u64) / 100
    }

    /// `zswap_accept_thr_pages()`: below (or at) this the pool accepts stores again.
    pub fn accept_thr_pages(&self) -> u64 {
        self.max_pages()
            .saturating_mul(self.accept_threshold_percent as u64)
            / 100
    }
}
