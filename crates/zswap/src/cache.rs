//! The cache itself: entries keyed by swap offset whose compressed bytes live in the zsmalloc
//! pool, batched all-or-nothing folio stores, exclusive loads, invalidation, the pool limit with
//! its hysteresis. Writeback reaches the entries only through [`Cache::pick_victim`] and
//! [`Cache::evict`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use idxd_runtime::{ContextPool, ErrorKind, Runtime};
use idxd_zsmalloc::{Handle, ZsPool, PAGE_SIZE};

use crate::config::ZswapConfig;
use crate::error::{DecodeError, RejectReason, ZswapError};
use crate::lru::Lru;
use crate::stats::{dec, inc, Counters};

const SHARDS: usize = 64;

/// Locks a mutex, recovering the data if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One stored page; its bytes are the pool object behind `handle`.
#[derive(Debug)]
struct Entry {
    /// Unique across the cache's life: tells a replaced entry from its successor.
    id: u64,
    /// Stored length: compressed, or the page size for a raw page.
    len: usize,
    handle: Handle,
    lru_seq: u64,
    /// Second-chance bit: set on store, cleared (and the entry rotated) by the shrinker.
    referenced: bool,
    /// A load is decompressing this entry.
    loading: bool,
}

/// A compressed (or raw) page in the pool, not yet an entry.
#[derive(Debug)]
pub(crate) struct Stored {
    len: usize,
    handle: Handle,
}

/// What the writeback walk found at the old end of the LRU.
#[derive(Debug)]
pub(crate) enum Victim {
    /// Nothing stored.
    Empty,
    /// The oldest entry was referenced (its bit is cleared now and it went to the young end),
    /// or it had just been removed.
    Rotated,
    /// The oldest entry is being loaded: rotated, not written.
    Busy,
    /// The oldest entry, decompressed into the caller's page (or why not).
    Page {
        /// Its offset.
        offset: u64,
        /// Its identity, for [`Cache::evict`].
        id: u64,
        /// Whether the page holds its data.
        decoded: Result<(), DecodeError>,
    },
}

/// What [`Cache::evict`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evicted {
    /// The entry was replaced or dropped meanwhile: nothing written.
    Gone,
    /// Written and dropped.
    Written,
    /// The write failed: the entry stays and goes to the young end.
    Failed,
}

/// Entries, their LRU, the pool and the limits.
#[derive(Debug)]
pub(crate) struct Cache {
    memory_bytes: u64,
    batch_size: usize,
    /// Pages that do not compress are stored raw (writeback possible) instead of refused.
    raw_ok: bool,
    enabled: AtomicBool,
    max_pool_percent: AtomicU32,
    accept_threshold_percent: AtomicU32,
    contexts: ContextPool,
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    lru: Mutex<Lru>,
    pool: Mutex<ZsPool>,
    counters: Counters,
    reached_full: AtomicBool,
    next_id: AtomicU64,
}

impl Cache {
    /// A cache compressing through `rt`; `raw_ok` says whether incompressible pages are stored.
    pub fn new(rt: Runtime, cfg: &ZswapConfig, raw_ok: bool) -> Self {
        Cache {
            memory_bytes: cfg.memory_bytes,
            batch_size: cfg.batch_size,
            raw_ok,
            enabled: AtomicBool::new(cfg.enabled),
            max_pool_percent: AtomicU32::new(cfg.max_pool_percent),
            accept_threshold_percent: AtomicU32::new(cfg.accept_threshold_percent),
            contexts: ContextPool::new(rt),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            lru: Mutex::new(Lru::default()),
            pool: Mutex::new(ZsPool::new(Some(cfg.memory_bytes / PAGE_SIZE as u64))),
            counters: Counters::default(),
            reached_full: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        }
    }

    fn shard(&self, offset: u64) -> &Mutex<HashMap<u64, Entry>> {
        &self.shards[(offset % SHARDS as u64) as usize]
    }

    /// The runtime underneath.
    pub fn runtime(&self) -> &Runtime {
        self.contexts.runtime()
    }

    /// The cache's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn max_pool_percent(&self) -> u32 {
        self.max_pool_percent.load(Ordering::Relaxed)
    }

    pub fn set_max_pool_percent(&self, pct: u32) {
        self.max_pool_percent.store(pct, Ordering::Relaxed);
    }

    pub fn accept_threshold_percent(&self) -> u32 {
        self.accept_threshold_percent.load(Ordering::Relaxed)
    }

    pub fn set_accept_threshold_percent(&self, pct: u32) {
        self.accept_threshold_percent.store(pct, Ordering::Relaxed);
    }

    /// Pages the pool holds.
    pub fn pool_pages(&self) -> u64 {
        lock(&self.pool).total_pages()
    }

    /// Compacts the pool; returns the pages freed.
    pub fn compact(&self) -> u64 {
        lock(&self.pool).compact()
    }

    /// Entries in the LRU.
    pub fn entries(&self) -> usize {
        lock(&self.lru).len()
    }

    pub fn max_pages(&self) -> u64 {
        let pct = self.max_pool_percent() as u64;
        (self.memory_bytes / PAGE_SIZE as u64).saturating_mul(pct) / 100
    }

    pub fn accept_thr_pages(&self) -> u64 {
        let pct = self.accept_threshold_percent() as u64;
        self.max_pages().saturating_mul(pct) / 100
    }

    /// Whether the pool reached its limit and has not yet shrunk to the accept threshold.
    pub fn is_full(&self) -> bool {
        self.reached_full.load(Ordering::Relaxed)
    }

    /// Whether an entry exists at `offset`.
    pub fn contains(&self, offset: u64) -> bool {
        lock(self.shard(offset)).contains_key(&offset)
    }

    /// Stored length of the entry at `offset`.
    pub fn entry_len(&self, offset: u64) -> Option<usize> {
        lock(self.shard(offset)).get(&offset).map(|e| e.len)
    }

    /// `zswap_check_limits`: true when stores must be refused.
    fn check_limits(&self) -> bool {
        let cur = self.pool_pages();
        if cur >= self.max_pages() {
            inc(&self.counters.pool_limit_hit);
            self.reached_full.store(true, Ordering::Relaxed);
        } else if self.is_full() && cur <= self.accept_thr_pages() {
            self.reached_full.store(false, Ordering::Relaxed);
        }
        self.is_full()
    }

    /// Whether a store may start now: enabled, and the pool limit (counting `pool_limit_hit`
    /// as `zswap_check_limits` does). Drops nothing.
    pub fn check_admission(&self) -> Result<(), RejectReason> {
        if !self.enabled() {
            Err(RejectReason::Disabled)
        } else if self.check_limits() {
            Err(RejectReason::PoolLimit)
        } else {
            Ok(())
        }
    }

    /// The synchronous checks before any compression: enabled, pool limit. A refusal drops
    /// the stale entries at the folio's offsets.
    pub fn admit(&self, offset: u64, pages: u64) -> Result<(), RejectReason> {
        let r = self.check_admission();
        if r.is_err() {
            self.invalidate_range(offset, pages);
        }
        r
    }

    /// Compresses and inserts every page of an admitted folio, in batches; on a refusal drops
    /// every entry at the folio's offsets.
    pub fn store_pages(&self, offset: u64, folio: &[u8]) -> Result<(), RejectReason> {
        match self.compress_folio(folio) {
            Ok(objs) => {
                self.commit(offset, objs, |_| true);
                Ok(())
            }
            Err(reason) => {
                self.invalidate_range(offset, (folio.len() / PAGE_SIZE) as u64);
                Err(reason)
            }
        }
    }

    /// Compresses every page of a folio, in batches, into pool objects (not yet entries): one
    /// per page, in order. A refusal is counted and frees what was allocated.
    pub fn compress_folio(&self, folio: &[u8]) -> Result<Vec<Stored>, RejectReason> {
        let pages: Vec<&[u8]> = folio.chunks_exact(PAGE_SIZE).collect();
        let mut objs = Vec::with_capacity(pages.len());
        let res = self.compress_batches(&pages, &mut objs);
        if res.is_err() {
            let mut pool = lock(&self.pool);
            for o in objs.drain(..) {
                let _ = pool.free(o.handle);
            }
        }
        res.map(|()| objs)
    }

    /// Turns the objects of [`Cache::compress_folio`] into entries at `offset..`, those whose
    /// offset `keep` accepts (replacing older entries there); frees the others.
    pub fn commit(&self, offset: u64, objs: Vec<Stored>, mut keep: impl FnMut(u64) -> bool) {
        for (o, obj) in (offset..).zip(objs) {
            if keep(o) {
                self.insert(o, obj.len, obj.handle);
            } else {
                let _ = lock(&self.pool).free(obj.handle);
            }
        }
    }

    fn compress_batches(&self, pages: &[&[u8]], objs: &mut Vec<Stored>) -> Result<(), RejectReason> {
        let batch = self.batch_size.min(pages.len()).max(1);
        let mut ctx = self.contexts.get();
        let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; PAGE_SIZE]; batch];
        for chunk in pages.chunks(batch) {
            let results = {
                let mut dsts: Vec<&mut [u8]> =
                    bufs.iter_mut().take(chunk.len()).map(|b| &mut b[..]).collect();
                ctx.compress(chunk, &mut dsts)
            };
            for (i, page) in chunk.iter().enumerate() {
                let data: &[u8] = match results.get(i) {
                    Some(Ok(len)) if *len > 0 && *len < PAGE_SIZE => &bufs[i][..*len],
                    other => {
                        if !self.raw_ok {
                            let reason = match other {
                                Some(Ok(len)) if *len >= PAGE_SIZE => RejectReason::CompressPoor,
                                Some(Err(e)) if e.kind == ErrorKind::DoesNotFit => RejectReason::CompressPoor,
                                _ => RejectReason::CompressFail,
                            };
                            self.count_reject(reason);
                            return Err(reason);
                        }
                        page
                    }
                };
                let handle = match lock(&self.pool).store(data) {
                    Ok(h) => h,
                    Err(_) => {
                        self.count_reject(RejectReason::AllocFail);
                        return Err(RejectReason::AllocFail);
                    }
                };
                objs.push(Stored {
                    len: data.len(),
                    handle,
                });
            }
        }
        Ok(())
    }

    fn count_reject(&self, reason: RejectReason) {
        let c = &self.counters;
        match reason {
            RejectReason::CompressPoor => inc(&c.reject_compress_poor),
            RejectReason::CompressFail => inc(&c.reject_compress_fail),
            RejectReason::AllocFail => inc(&c.reject_alloc_fail),
            RejectReason::Disabled | RejectReason::PoolLimit => {}
        }
    }

    fn insert(&self, offset: u64, len: usize, handle: Handle) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(self.shard(offset));
        let lru_seq = lock(&self.lru).push(offset);
        let e = Entry {
            id,
            len,
            handle,
            lru_seq,
            referenced: true,
            loading: false,
        };
        inc(&self.counters.stored_pages);
        if len == PAGE_SIZE {
            inc(&self.counters.stored_incompressible_pages);
        }
        if let Some(old) = shard.insert(offset, e) {
            self.release(old);
        }
    }

    /// Frees an entry already taken out of its shard (the caller may hold the shard lock).
    fn release(&self, e: Entry) {
        let _ = lock(&self.pool).free(e.handle);
        lock(&self.lru).remove(e.lru_seq);
        dec(&self.counters.stored_pages);
        if e.len == PAGE_SIZE {
            dec(&self.counters.stored_incompressible_pages);
        }
    }

    /// Drops the entry at `offset`; returns whether there was one.
    pub fn invalidate(&self, offset: u64) -> bool {
        let mut shard = lock(self.shard(offset));
        match shard.remove(&offset) {
            Some(e) => {
                self.release(e);
                true
            }
            None => false,
        }
    }

    pub fn invalidate_range(&self, offset: u64, pages: u64) {
        for o in offset..offset.saturating_add(pages) {
            self.invalidate(o);
        }
    }

    /// Copies an entry's bytes out of the pool (the caller holds its shard's lock, so the
    /// handle is live): a raw page straight into `page`, compressed bytes into `buf`.
    fn copy_out(&self, e: &Entry, page: &mut [u8], buf: &mut [u8]) -> Result<bool, DecodeError> {
        let pool = lock(&self.pool);
        if e.len == PAGE_SIZE {
            pool.read(e.handle, page)?;
            Ok(true)
        } else {
            pool.read(e.handle, buf)?;
            Ok(false)
        }
    }

    /// Decompresses stored bytes into one page.
    fn decompress(&self, data: &[u8], page: &mut [u8]) -> Result<(), DecodeError> {
        let mut ctx = self.contexts.get();
        let r = ctx.decompress(&[data], &mut [&mut *page]);
        match r.into_iter().next() {
            Some(Ok(n)) if n == PAGE_SIZE => Ok(()),
            Some(Ok(n)) => Err(DecodeError::NotAPage(n)),
            Some(Err(e)) => Err(DecodeError::Runtime(e)),
            None => Err(DecodeError::NoResult),
        }
    }

    /// Loads the page at `offset` (already checked against the swap area) and drops the entry.
    pub fn load(&self, offset: u64, page: &mut [u8]) -> Result<(), ZswapError> {
        if page.len() != PAGE_SIZE {
            return Err(ZswapError::InvalidLength {
                len: page.len(),
                what: "one page",
            });
        }
        let mut buf = [0u8; PAGE_SIZE];
        let (id, raw, len) = {
            let mut shard = lock(self.shard(offset));
            let e = shard.get_mut(&offset).ok_or(ZswapError::NotFound(offset))?;
            if e.loading {
                return Err(ZswapError::Busy(offset));
            }
            let raw = self
                .copy_out(e, page, &mut buf)
                .map_err(|source| ZswapError::Io { offset, source })?;
            e.loading = true;
            (e.id, raw, e.len)
        };
        let res = if raw {
            Ok(())
        } else {
            self.decompress(&buf[..len], page)
        };
        let mut shard = lock(self.shard(offset));
        match res {
            Ok(()) => {
                if shard.get(&offset).map(|e| e.id) == Some(id) {
                    if let Some(e) = shard.remove(&offset) {
                        self.release(e);
                    }
                }
                Ok(())
            }
            Err(source) => {
                if let Some(e) = shard.get_mut(&offset) {
                    if e.id == id {
                        e.loading = false;
                    }
                }
                inc(&self.counters.decompress_fail);
                Err(ZswapError::Io { offset, source })
            }
        }
    }

    /// One step of the second-chance walk: a referenced or busy oldest entry is rotated (its
    /// bit cleared), otherwise it is decompressed into `page` (one page long) for writing.
    pub fn pick_victim(&self, page: &mut [u8]) -> Victim {
        let Some((seq, offset)) = lock(&self.lru).oldest() else {
            return Victim::Empty;
        };
        let mut buf = [0u8; PAGE_SIZE];
        let (id, copied, len) = {
            let mut shard = lock(self.shard(offset));
            let Some(e) = shard.get_mut(&offset).filter(|e| e.lru_seq == seq) else {
                // Raced with a removal: the LRU slot is already gone or about to be.
                lock(&self.lru).remove(seq);
                return Victim::Rotated;
            };
            if e.referenced || e.loading {
                let busy = e.loading;
                e.referenced = false;
                e.lru_seq = lock(&self.lru).rotate(seq);
                return if busy { Victim::Busy } else { Victim::Rotated };
            }
            (e.id, self.copy_out(e, page, &mut buf), e.len)
        };
        let decoded = match copied {
            Ok(true) => Ok(()),
            Ok(false) => self.decompress(&buf[..len], page),
            Err(e) => Err(e),
        };
        Victim::Page { offset, id, decoded }
    }

    /// Drops entry `id` at `offset` once `write` (run under the entry's lock, so a newer store
    /// of the offset is never overwritten with stale data) succeeds; a failed write rotates it.
    pub fn evict(&self, offset: u64, id: u64, write: impl FnOnce() -> bool) -> Evicted {
        let mut shard = lock(self.shard(offset));
        let Some(e) = shard.get_mut(&offset).filter(|e| e.id == id) else {
            return Evicted::Gone;
        };
        if write() {
            if let Some(e) = shard.remove(&offset) {
                self.release(e);
            }
            Evicted::Written
        } else {
            e.lru_seq = lock(&self.lru).rotate(e.lru_seq);
            Evicted::Failed
        }
    }
}
