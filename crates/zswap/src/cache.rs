//! The zswap cache itself: entries keyed by swap offset, batched all-or-nothing folio stores,
//! exclusive loads, invalidation, the pool limit with its hysteresis.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use idxd_runtime::{ErrorKind, Runtime};

use crate::config::{ZswapConfig, MAX_FOLIO_PAGES};
use crate::contexts::ContextPool;
use crate::error::{RejectReason, ZswapError};
use crate::lru::Lru;
use crate::stats::{dec, inc, Counters, ZswapParams, ZswapStats};
use crate::writeback::{ShrinkReport, SwapFile};
use crate::zsmalloc::{Handle, ZsPool, PAGE_SIZE};

const SHARDS: usize = 64;

/// Locks a mutex, recovering the data if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One stored page.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Unique across the cache's life: tells a replaced entry from its successor.
    pub id: u64,
    /// Compressed bytes, or the page itself when `len == PAGE_SIZE`.
    pub data: Arc<[u8]>,
    pub handle: Handle,
    pub lru_seq: u64,
    /// Second-chance bit: set on store, cleared (and the entry rotated) by the shrinker.
    pub referenced: bool,
    /// A load is decompressing this entry.
    pub loading: bool,
}

/// Where a page read by [`Zswap::swap_in`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSource {
    /// The zswap pool (the entry is gone now: loads are exclusive).
    Zswap,
    /// The swap file (never stored, written back, or rejected and swapped out).
    SwapFile,
}

/// What became of a folio handed to [`Zswap::swap_out`] or the asynchronous store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Every page is in the pool.
    Stored,
    /// zswap refused it; the folio was written to the swap file.
    SwappedOut(RejectReason),
    /// zswap refused it and there is no swap file: the caller keeps the data.
    Rejected(RejectReason),
    /// zswap refused it and writing the swap file failed: the caller keeps the data.
    SwapFailed(RejectReason, String),
}

#[derive(Debug, Default)]
pub(crate) struct WorkerState {
    pub kick: bool,
    pub stop: bool,
}

/// Shared state (the background shrinker and the asynchronous store hold it too).
#[derive(Debug)]
pub(crate) struct Inner {
    pub cfg: ZswapConfig,
    pub enabled: AtomicBool,
    pub max_pool_percent: AtomicU32,
    pub accept_threshold_percent: AtomicU32,
    pub contexts: ContextPool,
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    pub lru: Mutex<Lru>,
    pub pool: Mutex<ZsPool>,
    pub counters: Counters,
    reached_full: AtomicBool,
    pub swap: Option<SwapFile>,
    next_id: AtomicU64,
    pub worker: (Mutex<WorkerState>, Condvar),
}

/// A zswap-style compressed cache in front of an (optional) swap file.
///
/// `Zswap` is `Sync`: share it (e.g. in an `Arc`) and store and load different offsets from
/// many threads. Each call borrows a runtime context for its whole folio or page.
pub struct Zswap {
    pub(crate) inner: Arc<Inner>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Zswap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zswap").field("stats", &self.stats()).finish()
    }
}

impl Zswap {
    /// A cache compressing through `rt`, writing back to `swap` (when given).
    ///
    /// The swap file is extended (sparsely) to `cfg.swap_slots` pages; slot `offset` lives at
    /// byte `offset * 4096`.
    pub fn new(rt: Runtime, cfg: ZswapConfig, swap: Option<File>) -> Result<Self, ZswapError> {
        cfg.validate()?;
        let swap = match swap {
            Some(f) => Some(SwapFile::new(f, cfg.swap_slots)?),
            None => None,
        };
        let inner = Arc::new(Inner {
            enabled: AtomicBool::new(cfg.enabled),
            max_pool_percent: AtomicU32::new(cfg.max_pool_percent),
            accept_threshold_percent: AtomicU32::new(cfg.accept_threshold_percent),
            contexts: ContextPool::new(rt),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            lru: Mutex::new(Lru::default()),
            pool: Mutex::new(ZsPool::new(Some(cfg.memory_bytes / PAGE_SIZE as u64))),
            counters: Counters::default(),
            reached_full: AtomicBool::new(false),
            swap,
            next_id: AtomicU64::new(1),
            worker: (Mutex::new(WorkerState::default()), Condvar::new()),
            cfg,
        });
        let worker = if inner.cfg.shrinker_enabled && inner.writeback_possible() {
            let w = Arc::clone(&inner);
            Some(
                std::thread::Builder::new()
                    .name("zswap-shrink".into())
                    .spawn(move || w.shrink_worker())
                    .map_err(ZswapError::SwapIo)?,
            )
        } else {
            None
        };
        Ok(Zswap { inner, worker })
    }

    /// Stores a folio of 1 to 512 pages at `offset..offset + pages`, all or nothing: on any
    /// refusal every entry at those offsets (old ones included) is dropped and the reason is
    /// returned; the caller then writes the folio to swap (see [`Zswap::swap_out`]).
    pub fn store(&self, offset: u64, folio: &[u8]) -> Result<(), ZswapError> {
        let pages = self.inner.check_folio(offset, folio)?;
        self.inner.admit(offset, pages).map_err(ZswapError::Rejected)?;
        self.inner
            .store_pages(offset, folio)
            .map_err(ZswapError::Rejected)
    }

    /// Loads the page at `offset` into `page` (one page long) and drops the entry (exclusive
    /// load). `NotFound` when absent; `Io` (entry kept, `decompress_fail` counted) when the
    /// data cannot be decompressed.
    pub fn load(&self, offset: u64, page: &mut [u8]) -> Result<(), ZswapError> {
        self.inner.load(offset, page)
    }

    /// Drops the entry at `offset`; returns whether there was one.
    pub fn invalidate(&self, offset: u64) -> bool {
        self.inner.invalidate(offset)
    }

    /// Whether an entry exists at `offset`.
    pub fn contains(&self, offset: u64) -> bool {
        offset < self.inner.cfg.swap_slots && lock(self.inner.shard(offset)).contains_key(&offset)
    }

    /// Stored length of the entry at `offset` (page size for a raw entry).
    pub fn entry_len(&self, offset: u64) -> Option<usize> {
        if offset >= self.inner.cfg.swap_slots {
            return None;
        }
        lock(self.inner.shard(offset)).get(&offset).map(|e| e.data.len())
    }

    /// The swap-out path: store in zswap, else write the folio to the swap file.
    pub fn swap_out(&self, offset: u64, folio: &[u8]) -> Result<StoreOutcome, ZswapError> {
        let pages = self.inner.check_folio(offset, folio)?;
        let res = match self.inner.admit(offset, pages) {
            Ok(()) => self.inner.store_pages(offset, folio),
            Err(r) => Err(r),
        };
        Ok(match res {
            Ok(()) => StoreOutcome::Stored,
            Err(reason) => self.inner.swap_out_rejected(offset, folio, reason),
        })
    }

    /// The swap-in path: load from zswap, else read the swap file.
    pub fn swap_in(&self, offset: u64, page: &mut [u8]) -> Result<PageSource, ZswapError> {
        match self.inner.load(offset, page) {
            Ok(()) => Ok(PageSource::Zswap),
            Err(ZswapError::NotFound(_)) => {
                let swap = self.inner.swap.as_ref().ok_or(ZswapError::NotFound(offset))?;
                swap.read_page(offset, page)?;
                Ok(PageSource::SwapFile)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes entries back, oldest first with a second chance, until the pool is at or below
    /// the accept threshold (what the kernel's shrink worker does after a limit hit).
    pub fn shrink(&self) -> ShrinkReport {
        self.inner.shrink()
    }

    /// Writes back up to `n` entries regardless of the pool size.
    pub fn writeback(&self, n: usize) -> ShrinkReport {
        self.inner.writeback_n(n)
    }

    /// Compacts the pool; returns the pages freed.
    pub fn compact(&self) -> u64 {
        lock(&self.inner.pool).compact()
    }

    /// Every counter.
    pub fn stats(&self) -> ZswapStats {
        self.inner.counters.snapshot(self.inner.pool_pages())
    }

    /// The module parameters.
    pub fn params(&self) -> ZswapParams {
        let i = &self.inner;
        ZswapParams {
            enabled: i.enabled.load(Ordering::Relaxed),
            compressor: i.contexts.runtime().algorithm_name(),
            max_pool_percent: i.max_pool_percent.load(Ordering::Relaxed),
            accept_threshold_percent: i.accept_threshold_percent.load(Ordering::Relaxed),
            shrinker_enabled: self.worker.is_some(),
        }
    }

    /// Sets `enabled`.
    pub fn set_enabled(&self, on: bool) {
        self.inner.enabled.store(on, Ordering::Relaxed);
    }

    /// Sets `max_pool_percent` (0 to 100).
    pub fn set_max_pool_percent(&self, pct: u32) -> Result<(), ZswapError> {
        if pct > 100 {
            return Err(ZswapError::Config(format!("max_pool_percent {pct} > 100")));
        }
        self.inner.max_pool_percent.store(pct, Ordering::Relaxed);
        Ok(())
    }

    /// Sets `accept_threshold_percent` (0 to 100).
    pub fn set_accept_threshold_percent(&self, pct: u32) -> Result<(), ZswapError> {
        if pct > 100 {
            return Err(ZswapError::Config(format!(
                "accept_threshold_percent {pct} > 100"
            )));
        }
        self.inner.accept_threshold_percent.store(pct, Ordering::Relaxed);
        Ok(())
    }

    /// The pool limit in pages.
    pub fn max_pages(&self) -> u64 {
        self.inner.max_pages()
    }

    /// The accept threshold in pages.
    pub fn accept_thr_pages(&self) -> u64 {
        self.inner.accept_thr_pages()
    }

    /// The configuration this cache was built with.
    pub fn config(&self) -> &ZswapConfig {
        &self.inner.cfg
    }

    /// The runtime underneath.
    pub fn runtime(&self) -> &Runtime {
        self.inner.contexts.runtime()
    }
}

impl Drop for Zswap {
    fn drop(&mut self) {
        if let Some(h) = self.worker.take() {
            lock(&self.inner.worker.0).stop = true;
            self.inner.worker.1.notify_all();
            let _ = h.join();
        }
    }
}

impl Inner {
    pub(crate) fn shard(&self, offset: u64) -> &Mutex<HashMap<u64, Entry>> {
        &self.shards[(offset % SHARDS as u64) as usize]
    }

    pub(crate) fn writeback_possible(&self) -> bool {
        self.cfg.writeback_enabled && self.swap.is_some()
    }

    pub(crate) fn pool_pages(&self) -> u64 {
        lock(&self.pool).total_pages()
    }

    pub(crate) fn max_pages(&self) -> u64 {
        let pct = self.max_pool_percent.load(Ordering::Relaxed) as u64;
        (self.cfg.memory_bytes / PAGE_SIZE as u64).saturating_mul(pct) / 100
    }

    pub(crate) fn accept_thr_pages(&self) -> u64 {
        let pct = self.accept_threshold_percent.load(Ordering::Relaxed) as u64;
        self.max_pages().saturating_mul(pct) / 100
    }

    /// Validates a folio; returns its page count.
    pub(crate) fn check_folio(&self, offset: u64, folio: &[u8]) -> Result<u64, ZswapError> {
        if folio.is_empty() || folio.len() % PAGE_SIZE != 0 || folio.len() / PAGE_SIZE > MAX_FOLIO_PAGES {
            return Err(ZswapError::InvalidLength {
                len: folio.len(),
                what: "1 to 512 whole pages",
            });
        }
        let pages = (folio.len() / PAGE_SIZE) as u64;
        let slots = self.cfg.swap_slots;
        match offset.checked_add(pages) {
            Some(end) if end <= slots => Ok(pages),
            _ => Err(ZswapError::OutOfRange {
                offset,
                end: offset.saturating_add(pages),
                slots,
            }),
        }
    }

    /// `zswap_check_limits`: true when stores must be refused.
    fn check_limits(&self) -> bool {
        let cur = self.pool_pages();
        if cur >= self.max_pages() {
            inc(&self.counters.pool_limit_hit);
            self.reached_full.store(true, Ordering::Relaxed);
        } else if self.reached_full.load(Ordering::Relaxed) && cur <= self.accept_thr_pages() {
            self.reached_full.store(false, Ordering::Relaxed);
        }
        self.reached_full.load(Ordering::Relaxed)
    }

    /// The synchronous checks before any compression: enabled, pool limit. A refusal drops
    /// the stale entries at the folio's offsets (and wakes the shrinker on a limit).
    pub(crate) fn admit(&self, offset: u64, pages: u64) -> Result<(), RejectReason> {
        let reason = if !self.enabled.load(Ordering::Relaxed) {
            RejectReason::Disabled
        } else if self.check_limits() {
            self.kick_shrinker();
            RejectReason::PoolLimit
        } else {
            return Ok(());
        };
        self.invalidate_range(offset, pages);
        Err(reason)
    }

    /// Compresses and inserts every page of an admitted folio, in batches; on a refusal drops
    /// every entry at the folio's offsets.
    pub(crate) fn store_pages(&self, offset: u64, folio: &[u8]) -> Result<(), RejectReason> {
        let pages: Vec<&[u8]> = folio.chunks_exact(PAGE_SIZE).collect();
        let res = self.store_batches(offset, &pages);
        if res.is_err() {
            self.invalidate_range(offset, pages.len() as u64);
            if self.reached_full.load(Ordering::Relaxed) {
                self.kick_shrinker();
            }
        }
        res
    }

    fn store_batches(&self, offset: u64, pages: &[&[u8]]) -> Result<(), RejectReason> {
        let batch = self.cfg.batch_size.min(pages.len()).max(1);
        let raw_ok = self.writeback_possible();
        let mut ctx = self.contexts.get();
        let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; PAGE_SIZE]; batch];
        let mut next = offset;
        for chunk in pages.chunks(batch) {
            let results = {
                let mut dsts: Vec<&mut [u8]> =
                    bufs.iter_mut().take(chunk.len()).map(|b| &mut b[..]).collect();
                ctx.compress(chunk, &mut dsts)
            };
            for (i, page) in chunk.iter().enumerate() {
                let data: Arc<[u8]> = match results.get(i) {
                    Some(Ok(len)) if *len > 0 && *len < PAGE_SIZE => Arc::from(&bufs[i][..*len]),
                    other => {
                        if !raw_ok {
                            let reason = match other {
                                Some(Ok(len)) if *len >= PAGE_SIZE => RejectReason::CompressPoor,
                                Some(Err(e)) if e.kind == ErrorKind::DoesNotFit => RejectReason::CompressPoor,
                                _ => RejectReason::CompressFail,
                            };
                            self.count_reject(reason);
                            return Err(reason);
                        }
                        Arc::from(*page)
                    }
                };
                let handle = match lock(&self.pool).alloc(data.len()) {
                    Ok(h) => h,
                    Err(_) => {
                        self.count_reject(RejectReason::AllocFail);
                        return Err(RejectReason::AllocFail);
                    }
                };
                self.insert(next, data, handle);
                next += 1;
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

    fn insert(&self, offset: u64, data: Arc<[u8]>, handle: Handle) {
        let raw = data.len() == PAGE_SIZE;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(self.shard(offset));
        let lru_seq = lock(&self.lru).push(offset);
        let e = Entry {
            id,
            data,
            handle,
            lru_seq,
            referenced: true,
            loading: false,
        };
        inc(&self.counters.stored_pages);
        if raw {
            inc(&self.counters.stored_incompressible_pages);
        }
        if let Some(old) = shard.insert(offset, e) {
            self.release(old);
        }
    }

    /// Frees an entry already taken out of its shard (the caller may hold the shard lock).
    pub(crate) fn release(&self, e: Entry) {
        let _ = lock(&self.pool).free(e.handle);
        lock(&self.lru).remove(e.lru_seq);
        dec(&self.counters.stored_pages);
        if e.data.len() == PAGE_SIZE {
            dec(&self.counters.stored_incompressible_pages);
        }
    }

    pub(crate) fn invalidate(&self, offset: u64) -> bool {
        if offset >= self.cfg.swap_slots {
            return false;
        }
        let mut shard = lock(self.shard(offset));
        match shard.remove(&offset) {
            Some(e) => {
                self.release(e);
                true
            }
            None => false,
        }
    }

    pub(crate) fn invalidate_range(&self, offset: u64, pages: u64) {
        for o in offset..offset.saturating_add(pages) {
            self.invalidate(o);
        }
    }

    /// Decompresses (or copies) stored bytes into one page.
    pub(crate) fn decode(&self, data: &[u8], page: &mut [u8]) -> Result<(), String> {
        if data.len() == PAGE_SIZE {
            page.copy_from_slice(data);
            return Ok(());
        }
        let mut ctx = self.contexts.get();
        let r = ctx.decompress(&[data], &mut [&mut *page]);
        match r.into_iter().next() {
            Some(Ok(n)) if n == PAGE_SIZE => Ok(()),
            Some(Ok(n)) => Err(format!("decompressed to {n} bytes, not a page")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no result from the runtime".into()),
        }
    }

    fn load(&self, offset: u64, page: &mut [u8]) -> Result<(), ZswapError> {
        if page.len() != PAGE_SIZE {
            return Err(ZswapError::InvalidLength {
                len: page.len(),
                what: "one page",
            });
        }
        if offset >= self.cfg.swap_slots {
            return Err(ZswapError::OutOfRange {
                offset,
                end: offset.saturating_add(1),
                slots: self.cfg.swap_slots,
            });
        }
        let (id, data) = {
            let mut shard = lock(self.shard(offset));
            let e = shard.get_mut(&offset).ok_or(ZswapError::NotFound(offset))?;
            if e.loading {
                return Err(ZswapError::Busy(offset));
            }
            e.loading = true;
            (e.id, Arc::clone(&e.data))
        };
        let res = self.decode(&data, page);
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
            Err(detail) => {
                if let Some(e) = shard.get_mut(&offset) {
                    if e.id == id {
                        e.loading = false;
                    }
                }
                inc(&self.counters.decompress_fail);
                Err(ZswapError::Io { offset, detail })
            }
        }
    }

    /// After a refusal: the folio goes to the swap file, if there is one.
    pub(crate) fn swap_out_rejected(&self, offset: u64, folio: &[u8], reason: RejectReason) -> StoreOutcome {
        match &self.swap {
            None => StoreOutcome::Rejected(reason),
            Some(swap) => match swap.write_pages(offset, folio) {
                Ok(()) => StoreOutcome::SwappedOut(reason),
                Err(e) => StoreOutcome::SwapFailed(reason, e.to_string()),
            },
        }
    }

    fn kick_shrinker(&self) {
        if self.cfg.shrinker_enabled && self.writeback_possible() {
            lock(&self.worker.0).kick = true;
            self.worker.1.notify_one();
        }
    }

    /// Entries of the shard of `offset` (for the writeback path).
    pub(crate) fn shard_lock(&self, offset: u64) -> MutexGuard<'_, HashMap<u64, Entry>> {
        lock(self.shard(offset))
    }
}
