//! Writeback: the swap file, the oldest-first walk with a second-chance bit, and the shrinker
//! (on demand, or a background thread woken when the pool hits its limit).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::cache::{lock, Inner};
use crate::stats::inc;
use crate::zsmalloc::PAGE_SIZE;

/// Consecutive writeback failures after which a shrink gives up (`MAX_RECLAIM_RETRIES`).
const MAX_RECLAIM_RETRIES: u32 = 16;

/// The swap area: slot `offset` at byte `offset * 4096` of a plain file.
#[derive(Debug)]
pub(crate) struct SwapFile {
    file: File,
    slots: u64,
}

impl SwapFile {
    pub fn new(file: File, slots: u64) -> io::Result<Self> {
        let want = slots * PAGE_SIZE as u64;
        if file.metadata()?.len() < want {
            file.set_len(want)?;
        }
        Ok(SwapFile { file, slots })
    }

    pub fn write_pages(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let pages = (data.len() / PAGE_SIZE) as u64;
        if offset.checked_add(pages).is_none_or(|end| end > self.slots) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "offset past the swap area",
            ));
        }
        self.file.write_all_at(data, offset * PAGE_SIZE as u64)
    }

    pub fn read_page(&self, offset: u64, page: &mut [u8]) -> io::Result<()> {
        if offset >= self.slots {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "offset past the swap area",
            ));
        }
        self.file.read_exact_at(page, offset * PAGE_SIZE as u64)
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

impl Inner {
    /// One step of the LRU walk.
    fn shrink_one(&self) -> Step {
        let Some((seq, offset)) = lock(&self.lru).oldest() else {
            return Step::Empty;
        };
        let (id, data) = {
            let mut shard = self.shard_lock(offset);
            let Some(e) = shard.get_mut(&offset).filter(|e| e.lru_seq == seq) else {
                // Raced with a removal: the LRU slot is already gone or about to be.
                lock(&self.lru).remove(seq);
                return Step::Rotated;
            };
            if e.referenced || e.loading {
                let busy = e.loading;
                e.referenced = false;
                e.lru_seq = lock(&self.lru).rotate(seq);
                if busy {
                    inc(&self.counters.reject_reclaim_fail);
                    return Step::Failed;
                }
                return Step::Rotated;
            }
            (e.id, std::sync::Arc::clone(&e.data))
        };
        let mut page = vec![0u8; PAGE_SIZE];
        let decoded = self.decode(&data, &mut page);
        let Some(swap) = self.swap.as_ref() else {
            return Step::Empty;
        };
        // The write happens under the shard lock, after checking the entry is still the one
        // we decompressed: a newer store or a swap-out of the same offset is never overwritten
        // with stale data.
        let mut shard = self.shard_lock(offset);
        let Some(e) = shard.get_mut(&offset).filter(|e| e.id == id) else {
            return Step::Rotated;
        };
        let written = decoded.is_ok() && swap.write_pages(offset, &page).is_ok();
        if written {
            if let Some(e) = shard.remove(&offset) {
                self.release(e);
            }
            inc(&self.counters.written_back_pages);
            Step::WrittenBack
        } else {
            e.lru_seq = lock(&self.lru).rotate(e.lru_seq);
            inc(&self.counters.reject_reclaim_fail);
            Step::Failed
        }
    }

    /// Walks the LRU while `more()` says so.
    fn walk(&self, mut more: impl FnMut(&ShrinkReport) -> bool) -> ShrinkReport {
        let mut r = ShrinkReport::default();
        if !self.writeback_possible() {
            return r;
        }
        let mut failures = 0;
        while more(&r) {
            // Two full passes without progress mean nothing can be written back.
            let limit = 2 * lock(&self.lru).len() as u64 + 2;
            if r.rotated > limit + r.written_back {
                break;
            }
            match self.shrink_one() {
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
    pub(crate) fn shrink(&self) -> ShrinkReport {
        let thr = self.accept_thr_pages();
        self.walk(|_| self.pool_pages() > thr)
    }

    /// Writes back up to `n` entries.
    pub(crate) fn writeback_n(&self, n: usize) -> ShrinkReport {
        self.walk(|r| r.written_back < n as u64)
    }

    /// The background shrinker: sleeps until kicked (a store refused at the limit), shrinks.
    pub(crate) fn shrink_worker(&self) {
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
            self.shrink();
        }
    }
}
