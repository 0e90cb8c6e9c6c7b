//! Writeback: the swap file, the policy (whether entries may be written back), the
//! oldest-first walk with a second-chance bit, and the shrinker (on demand, or a background
//! thread woken when the pool hits its limit). It reaches the cache's entries only through
//! [`Cache::pick_victim`] and [`Cache::evict`].

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Condvar, Mutex};

use idxd_zsmalloc::PAGE_SIZE;

use crate::cache::{lock, Cache, Evicted, Victim};
use crate::error::{SwapOp, ZswapError};
use crate::stats::{inc, WritebackCounters};

/// Consecutive writeback failures after which a shrink gives up (`MAX_RECLAIM_RETRIES`).
const MAX_RECLAIM_RETRIES: u32 = 16;

/// The swap area: slot `offset` at byte `offset * 4096` of a plain file.
#[derive(Debug)]
pub(crate) struct SwapFile {
    file: File,
    slots: u64,
}

fn swap_err(op: SwapOp, offset: u64) -> impl FnOnce(io::Error) -> ZswapError {
    move |source| ZswapError::SwapFile { op, offset, source }
}

impl SwapFile {
    /// Extends `file` (sparsely) to `slots` pages.
    pub fn new(file: File, slots: u64) -> Result<Self, ZswapError> {
        let want = slots * PAGE_SIZE as u64;
        let len = file.metadata().map_err(swap_err(SwapOp::Resize, slots))?.len();
        if len < want {
            file.set_len(want).map_err(swap_err(SwapOp::Resize, slots))?;
        }
        Ok(SwapFile { file, slots })
    }

    fn check(&self, op: SwapOp, offset: u64, pages: u64) -> Result<(), ZswapError> {
        if offset.checked_add(pages).is_none_or(|end| end > self.slots) {
            return Err(ZswapError::SwapFile {
                op,
                offset,
                source: io::Error::new(io::ErrorKind::InvalidInput, "offset past the swap area"),
            });
        }
        Ok(())
    }

    /// Writes whole pages from slot `offset` on.
    pub fn write_pages(&self, offset: u64, data: &[u8]) -> Result<(), ZswapError> {
        self.check(SwapOp::Write, offset, (data.len() / PAGE_SIZE) as u64)?;
        self.file
            .write_all_at(data, offset * PAGE_SIZE as u64)
            .map_err(swap_err(SwapOp::Write, offset))
    }

    /// Reads the page at slot `offset`.
    pub fn read_page(&self, offset: u64, page: &mut [u8]) -> Result<(), ZswapError> {
        self.check(SwapOp::Read, offset, 1)?;
        self.file
            .read_exact_at(page, offset * PAGE_SIZE as u64)
            .map_err(swap_err(SwapOp::Read, offset))
    }
}

/// What one shrink or writeback call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShrinkReport {
    /// Entries written to the swap file.
    pub written_back: u64,
    /// Entries that had their referenced bit cleared and went to the young end.
    pub rotated: u64,
    /// Entries that could not be written back (busy, decompression or I/O error).
    pub failed: u64,
}

enum Step {
    Empty,
    Rotated,
    WrittenBack,
    Failed,
}

#[derive(Debug, Default)]
struct WorkerState {
    kick: bool,
    stop: bool,
}

/// The swap file and the writeback policy and state.
#[derive(Debug)]
pub(crate) struct Writeback {
    swap: Option<SwapFile>,
    /// `memory.zswap.writeback`.
    enabled: bool,
    /// Whether a background shrinker serves kicks.
    shrinker: bool,
    worker: (Mutex<WorkerState>, Condvar),
    counters: WritebackCounters,
}

impl Writeback {
    /// Writeback to `swap` (extended to `slots` pages) when `enabled`; `shrinker` says whether
    /// a background thread (see [`Writeback::run_shrinker`]) will serve limit hits.
    pub fn new(swap: Option<File>, slots: u64, enabled: bool, shrinker: bool) -> Result<Self, ZswapError> {
        let swap = match swap {
            Some(f) => Some(SwapFile::new(f, slots)?),
            None => None,
        };
        Ok(Writeback {
            swap,
            enabled,
            shrinker,
            worker: (Mutex::new(WorkerState::default()), Condvar::new()),
            counters: WritebackCounters::default(),
        })
    }

    /// Whether entries may be written back (a swap file and the policy allows it).
    pub fn possible(&self) -> bool {
        self.enabled && self.swap.is_some()
    }

    /// Whether a background shrinker runs.
    pub fn has_shrinker(&self) -> bool {
        self.shrinker && self.possible()
    }

    /// The swap file, if any.
    pub fn swap(&self) -> Option<&SwapFile> {
        self.swap.as_ref()
    }

    pub fn counters(&self) -> &WritebackCounters {
        &self.counters
    }

    /// One step of the LRU walk.
    fn shrink_one(&self, cache: &Cache, page: &mut [u8]) -> Step {
        let Some(swap) = self.swap.as_ref() else {
            return Step::Empty;
        };
        match cache.pick_victim(page) {
            Victim::Empty => Step::Empty,
            Victim::Rotated => Step::Rotated,
            Victim::Busy => {
                inc(&self.counters.reject_reclaim_fail);
                Step::Failed
            }
            Victim::Page { offset, id, decoded } => {
                let write = || decoded.is_ok() && swap.write_pages(offset, page).is_ok();
                match cache.evict(offset, id, write) {
                    Evicted::Gone => Step::Rotated,
                    Evicted::Written => {
                        inc(&self.counters.written_back_pages);
                        Step::WrittenBack
                    }
                    Evicted::Failed => {
                        inc(&self.counters.reject_reclaim_fail);
                        Step::Failed
                    }
                }
            }
        }
    }

    /// Walks the LRU while `more()` says so.
    fn walk(&self, cache: &Cache, mut more: impl FnMut(&ShrinkReport) -> bool) -> ShrinkReport {
        let mut r = ShrinkReport::default();
        if !self.possible() {
            return r;
        }
        let mut page = vec![0u8; PAGE_SIZE];
        let mut failures = 0;
        while more(&r) {
            // Two full passes without progress mean nothing can be written back.
            let limit = 2 * cache.entries() as u64 + 2;
            if r.rotated > limit + r.written_back {
                break;
            }
            match self.shrink_one(cache, &mut page) {
                Step::Empty => break,
                Step::Rotated => r.rotated += 1,
                Step::WrittenBack => r.written_back += 1,
                Step::Failed => {
                    r.failed += 1;
                    failures += 1;
                    if failures == MAX_RECLAIM_RETRIES {
                        break;
                    }
                }
            }
        }
        r
    }

    /// Writes back until the pool is at or below the accept threshold.
    pub fn shrink(&self, cache: &Cache) -> ShrinkReport {
        let thr = cache.accept_thr_pages();
        self.walk(cache, |_| cache.pool_pages() > thr)
    }

    /// Writes back up to `n` entries.
    pub fn writeback_n(&self, cache: &Cache, n: usize) -> ShrinkReport {
        self.walk(cache, |r| r.written_back < n as u64)
    }

    /// Wakes the background shrinker (a store refused at the limit).
    pub fn kick(&self) {
        if self.has_shrinker() {
            lock(&self.worker.0).kick = true;
            self.worker.1.notify_one();
        }
    }

    /// Stops the background shrinker.
    pub fn stop(&self) {
        lock(&self.worker.0).stop = true;
        self.worker.1.notify_all();
    }

    /// The background shrinker's loop: sleeps until kicked, shrinks; returns when stopped.
    pub fn run_shrinker(&self, cache: &Cache) {
        loop {
            {
                let mut st = lock(&self.worker.0);
                while !st.kick && !st.stop {
                    st = self.worker.1.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop {
                    return;
                }
                st.kick = false;
            }
            self.shrink(cache);
        }
    }
}
